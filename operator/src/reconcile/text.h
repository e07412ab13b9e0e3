#pragma once
// Number formatting for condition and event messages (the reconcile library links no formatting
// library: printf's conversions are enough).

#include <cstdio>
#include <string>
#include <vector>

namespace pdscaler::reconcile {

// printf's %.<digits>g: 5.01, 1.23e+03.
inline std::string significant(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// printf's %.<decimals>f: 3.069.
inline std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace pdscaler::reconcile
