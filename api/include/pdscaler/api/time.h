#pragma once
// Durations and times as the API writes them, in one place: Go-style durations ("2s", "100ms",
// "1m30s") in specs, RFC 3339 timestamps ("2026-11-22T20:41:07Z") in metadata and status, and
// MicroTime ("...07.123456Z") in Leases and events.
//
//   auto s = parse_duration("1m30s");          // 90.0
//   auto t = parse_time("2026-11-22T20:41:07Z");
//   std::string text = format_time(*t);        // the same text back

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pdscaler::api {

using Time = std::chrono::system_clock::time_point;

// Go-style durations as the CRD's pattern allows: one or more <decimal><unit>, unit in ns, us, µs,
// ms, s, m, h; "0" alone is zero. Seconds, or nullopt if the text is not such a duration. A leading
// '-' yields a negative value for the caller to refuse.
std::optional<double> parse_duration(std::string_view text);

// Seconds as the shortest readable duration: 0.02 -> "20ms", 2 -> "2s", 0.0005 -> "500us".
std::string format_duration(double seconds);

// RFC 3339 with an optional fraction and a Z or +hh:mm offset; nullopt for anything else.
std::optional<Time> parse_time(std::string_view text);
std::string format_time(Time t);        // UTC, whole seconds (metav1.Time)
std::string format_micro_time(Time t);  // UTC, microseconds (metav1.MicroTime)

// The same instant without its fraction of a second: what a status timestamp can hold, so that a
// time written and read back compares equal.
Time whole_seconds(Time t);

double seconds_between(Time from, Time to);
double to_epoch_seconds(Time t);
Time from_epoch_seconds(double s);

}  // namespace pdscaler::api
