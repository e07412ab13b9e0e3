// The small text values of specs and objects: Go durations, RFC 3339 times and MicroTimes, label
// selector strings (/scale's status.selector), and YAML plain scalars as the manifest parser types
// them (numbers, booleans, null). Each parses or refuses; what parses formats back to the same value.
#include <cmath>
#include <string>

#include "pdscaler/api/objects.h"
#include "pdscaler/api/spec_codec.h"
#include "pdscaler/api/time.h"

using namespace pdscaler;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // format_duration writes four significant digits for messages: it reads back within that, up to
  // 10,000 hours (beyond, it switches to an exponent no duration has).
  if (auto s = api::parse_duration(text); s && *s >= 1e-9 && *s < 3.6e7) {
    auto back = api::parse_duration(api::format_duration(*s));
    if (!back || std::fabs(*back - *s) > 5e-4 * *s) __builtin_trap();
  }
  if (auto t = api::parse_time(text)) {
    auto back = api::parse_time(api::format_time(*t));
    if (!back || *back != api::whole_seconds(*t)) __builtin_trap();
    (void)api::format_micro_time(*t);
  }
  if (auto sel = api::parse_label_selector(text)) (void)sel->matches({{"app", "x"}});

  // One plain scalar in a manifest: typed or kept as text, never an exception.
  if (text.find('\n') == std::string::npos && text.find('\r') == std::string::npos) {
    auto m = api::parse_manifest("v: " + text + "\n");
    if (m && m->tree.is_object() && m->tree.contains("v")) {
      const auto& v = m->tree["v"];
      if (v.is_number_float() && !std::isfinite(v.get<double>())) __builtin_trap();
    }
  }
  return 0;
}
