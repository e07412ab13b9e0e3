// Request traces and load curves as `pdscaler simulate` reads them: the Azure LLM trace CSV,
// generic CSV and JSONL with configurable fields and time units, and the 14-day load-curve CSV.
// A trace that parses is sorted, finite and non-negative, and scales and densifies without a
// sanitizer report.
#include <cmath>
#include <string>

#include "pdscaler/sim/load.h"
#include "pdscaler/sim/trace.h"

using namespace pdscaler;

namespace {

void check(const sim::ParseResult& t) {
  if (!t) {
    if (t.error().empty()) __builtin_trap();
    return;
  }
  double last = 0;
  for (const auto& r : t->requests) {
    if (!std::isfinite(r.arrival_s) || r.arrival_s < last || r.input_tokens < 0 || r.output_tokens < 0) __builtin_trap();
    last = r.arrival_s;
  }
  if (!std::isfinite(t->duration_s) || t->duration_s < 0) __builtin_trap();
  if (t->requests.size() <= 2000) {
    (void)sim::scale(*t, 4.0);
    (void)sim::densify(*t, 2.5, 1.0, 7);
    (void)sim::peak_load(*sim::trace_load(*t), 60);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check(sim::parse_azure_csv(text));
  sim::Fields f;
  check(sim::parse_csv(text, f));
  check(sim::parse_jsonl(text, f));
  f.unit = sim::TimeUnit::Timestamp;
  f.timestamp = "TIMESTAMP";
  check(sim::parse_csv(text, f));
  f.unit = sim::TimeUnit::Nanoseconds;
  check(sim::parse_jsonl(text, f));
  if (auto w = sim::parse_load_curve(text); w && w->size() <= 5000) {
    auto schedule = sim::curve_schedule(*w, 1.0, 1.0);
    for (const auto& s : schedule)
      if (!std::isfinite(s.requests_per_s) || s.requests_per_s < 0) __builtin_trap();
  }
  return 0;
}
