#include "pdscaler/api/time.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace pdscaler::api {

std::optional<double> parse_duration(std::string_view s) {
  if (s == "0") return 0.0;
  double sign = 1;
  if (!s.empty() && s.front() == '-') {
    sign = -1;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    const std::string_view digits = s.substr(0, i);
    if (digits.front() == '.' || digits.back() == '.' || digits.find('.') != digits.rfind('.')) return std::nullopt;
    double v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    s.remove_prefix(i);
    static const std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
    bool matched = false;
    for (const auto& [unit, scale] : kUnits) {
      // "m" must not swallow the "m" of "ms".
      if (s.substr(0, unit.size()) == unit && !(unit == "m" && s.size() > 1 && s[1] == 's')) {
        total += v * scale;
        s.remove_prefix(unit.size());
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return sign * total;
}

std::string format_duration(double seconds) {
  struct Unit {
    const char* name;
    double scale;
  };
  static const Unit kUnits[] = {{"h", 3600}, {"m", 60}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}};
  if (seconds == 0) return "0s";
  if (!std::isfinite(seconds)) return seconds > 0 ? "inf" : "-inf";
  const double a = std::abs(seconds);
  for (const auto& u : kUnits) {
    if (a >= u.scale || u.scale == 1e-9) {
      std::ostringstream os;
      os.precision(4);
      os << seconds / u.scale << u.name;
      return os.str();
    }
  }
  return "0s";
}

namespace {
// `n` decimal digits at `s[at]`, or -1.
int digits(std::string_view s, size_t at, size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
}  // namespace

std::optional<Time> parse_time(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)
  const int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
  const int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1] + (month == 2 && is_leap(year))) return std::nullopt;
  size_t at = 19;
  std::chrono::nanoseconds frac{0};
  if (at < s.size() && s[at] == '.') {
    ++at;
    const size_t start = at;
    long long ns = 0;
    int scale = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
      if (scale < 9) {
        ns = ns * 10 + (s[at] - '0');
        ++scale;
      }
      ++at;
    }
    if (at == start) return std::nullopt;
    for (; scale < 9; ++scale) ns *= 10;
    frac = std::chrono::nanoseconds(ns);
  }
  int offset_min = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    const int oh = digits(s, at + 1, 2), om = digits(s, at + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59 || s[at + 3] != ':') return std::nullopt;
    offset_min = (s[at] == '+' ? 1 : -1) * (oh * 60 + om);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  // A Time counts nanoseconds in 64 bits: 1678 to 2261. Outside (a year 9999 written as "never",
  // a garbled digit), the time is not one this clock can hold; found by fuzz_text_values.
  if (year < 1678 || year > 2261) return std::nullopt;
  const std::chrono::sys_days date = std::chrono::year_month_day{
      std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)), std::chrono::day(static_cast<unsigned>(day))};
  const auto t = date + std::chrono::hours(hour) + std::chrono::minutes(minute - offset_min) +
                 std::chrono::seconds(second) + frac;
  return std::chrono::time_point_cast<Time::duration>(t);
}

namespace {
std::string format_with(Time t, bool micro) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto days = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{secs - days};
  char buf[48];
  if (micro) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()), static_cast<long long>(us));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  }
  return buf;
}
}  // namespace

std::string format_time(Time t) { return format_with(t, false); }
std::string format_micro_time(Time t) { return format_with(t, true); }

Time whole_seconds(Time t) { return std::chrono::floor<std::chrono::seconds>(t); }

double seconds_between(Time from, Time to) { return std::chrono::duration<double>(to - from).count(); }

double to_epoch_seconds(Time t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

Time from_epoch_seconds(double s) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::duration<double>(s)));
}

}  // namespace pdscaler::api
