#include "pdscaler/sim/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <sstream>

namespace pdscaler::sim {
namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) { out.push_back(cur); cur.clear(); }
    else if (c != '\r') cur.push_back(c);
  }
  out.push_back(cur);
  for (auto& s : out) {
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
  }
  return out;
}

std::optional<double> number(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

// "2023-11-16 18:17:03.9799600" (or with 'T') -> seconds since the epoch.
std::optional<double> timestamp(const std::string& s) {
  int y, mo, d, h, mi;
  double sec;
  char sep;
  if (std::sscanf(s.c_str(), "%d-%d-%d%c%d:%d:%lf", &y, &mo, &d, &sep, &h, &mi, &sec) != 7) return std::nullopt;
  if (sep != ' ' && sep != 'T') return std::nullopt;
  // Out-of-range fields overflowed the arithmetic below (an hour of 1410065416; found by
  // fuzz_traces): each must be a field of a real date and time.
  if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      !(sec >= 0 && sec < 61))
    return std::nullopt;
  return static_cast<double>(days_from_civil(y, mo, d)) * 86400 + h * 3600 + mi * 60 + sec;
}

std::optional<double> time_value(const std::string& s, TimeUnit u) {
  if (u == TimeUnit::Timestamp) return timestamp(s);
  auto v = number(s);
  if (!v) return v;
  switch (u) {
    case TimeUnit::Milliseconds: return *v / 1e3;
    case TimeUnit::Microseconds: return *v / 1e6;
    case TimeUnit::Nanoseconds: return *v / 1e9;
    default: return *v;
  }
}

std::string where(size_t line, const std::string& field) {
  return "line " + std::to_string(line) + ": " + field + ": ";
}

ParseResult finish(std::vector<std::pair<double, Request>> rows) {
  if (rows.empty()) return tl::unexpected(std::string("the trace has no requests"));
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Trace t;
  const double t0 = rows.front().first;
  for (auto& [ts, r] : rows) {
    r.arrival_s = ts - t0;
    t.requests.push_back(r);
  }
  t.duration_s = t.requests.back().arrival_s;
  return t;
}

// Reads one request from named string fields; `get` returns nullopt when the field is absent.
template <typename Get>
tl::expected<std::pair<double, Request>, std::string> row(size_t line, const Fields& f, Get get) {
  auto ts_s = get(f.timestamp);
  auto in_s = get(f.input);
  auto out_s = get(f.output);
  if (!ts_s) return tl::unexpected(where(line, f.timestamp) + "missing");
  if (!in_s) return tl::unexpected(where(line, f.input) + "missing");
  if (!out_s) return tl::unexpected(where(line, f.output) + "missing");
  auto ts = time_value(*ts_s, f.unit);
  if (!ts) return tl::unexpected(where(line, f.timestamp) + "not a time: \"" + *ts_s + "\"");
  auto in = number(*in_s);
  auto out = number(*out_s);
  // Above INT_MAX the conversion to int is undefined (found by fuzz_traces): no request is that long.
  constexpr double kMaxTokens = std::numeric_limits<int>::max();
  if (!in || *in < 0 || *in != std::floor(*in) || *in > kMaxTokens)
    return tl::unexpected(where(line, f.input) + "expected a whole number, got \"" + *in_s + "\"");
  if (!out || *out < 0 || *out != std::floor(*out) || *out > kMaxTokens)
    return tl::unexpected(where(line, f.output) + "expected a whole number, got \"" + *out_s + "\"");
  Request r;
  r.input_tokens = std::max(1, static_cast<int>(*in));
  r.output_tokens = std::max(1, static_cast<int>(*out));
  return std::pair{*ts, r};
}

}  // namespace

ParseResult parse_csv(const std::string& text, const Fields& f) {
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  std::map<std::string, size_t> col;
  std::vector<std::pair<double, Request>> rows;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line == "\r") continue;
    auto cells = split_csv(line);
    if (col.empty()) {
      for (size_t i = 0; i < cells.size(); ++i) col[cells[i]] = i;
      for (const auto* name : {&f.timestamp, &f.input, &f.output})
        if (!col.count(*name)) return tl::unexpected("line 1: no column \"" + *name + "\" in the header");
      continue;
    }
    auto r = row(n, f, [&](const std::string& name) -> std::optional<std::string> {
      const size_t i = col[name];
      if (i >= cells.size()) return std::nullopt;
      return cells[i];
    });
    if (!r) return tl::unexpected(r.error());
    rows.push_back(*r);
  }
  return finish(std::move(rows));
}

ParseResult parse_azure_csv(const std::string& text) {
  return parse_csv(text, Fields{"TIMESTAMP", "ContextTokens", "GeneratedTokens", TimeUnit::Timestamp});
}

ParseResult parse_jsonl(const std::string& text, const Fields& f) {
  // A minimal reader for flat JSON objects of strings and numbers, one per line.
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  std::vector<std::pair<double, Request>> rows;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto value_of = [&](const std::string& key) -> std::optional<std::string> {
      const std::string quoted = "\"" + key + "\"";
      size_t k = line.find(quoted);
      if (k == std::string::npos) return std::nullopt;
      k = line.find(':', k + quoted.size());
      if (k == std::string::npos) return std::nullopt;
      ++k;
      while (k < line.size() && line[k] == ' ') ++k;
      if (k < line.size() && line[k] == '"') {
        const size_t e = line.find('"', k + 1);
        if (e == std::string::npos) return std::nullopt;
        return line.substr(k + 1, e - k - 1);
      }
      size_t e = k;
      while (e < line.size() && line[e] != ',' && line[e] != '}' && line[e] != ' ') ++e;
      return line.substr(k, e - k);
    };
    auto r = row(n, f, value_of);
    if (!r) return tl::unexpected(r.error());
    rows.push_back(*r);
  }
  return finish(std::move(rows));
}

Trace scale(const Trace& t, double factor) {
  Trace out = t;
  for (auto& r : out.requests) r.arrival_s /= factor;
  out.duration_s = t.duration_s / factor;
  return out;
}

Trace densify(const Trace& t, double factor, double jitter_s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const int whole = static_cast<int>(std::floor(factor));
  const double frac = factor - whole;
  Trace out;
  out.duration_s = t.duration_s;
  out.requests.reserve(static_cast<size_t>(std::ceil(factor * static_cast<double>(t.requests.size()))));
  for (const auto& r : t.requests) {
    const int n = whole + (u(rng) < frac ? 1 : 0);
    for (int k = 0; k < n; ++k) {
      Request c = r;
      // An offset past either end of the trace is reflected back inside: clamped, every copy
      // moved past an end would arrive at that very instant (about a quarter of the copies of
      // the first and last jitter_s / 2), a burst the trace does not have.
      double a = r.arrival_s + (u(rng) - 0.5) * jitter_s;
      if (a < 0) a = -a;
      if (a > t.duration_s) a = 2 * t.duration_s - a;
      c.arrival_s = std::clamp(a, 0.0, t.duration_s);
      out.requests.push_back(c);
    }
  }
  std::stable_sort(out.requests.begin(), out.requests.end(),
                   [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

}  // namespace pdscaler::sim
