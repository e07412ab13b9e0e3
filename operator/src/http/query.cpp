#include <fmt/format.h>

#include <cctype>

#include "pdscaler/http/client.h"

namespace pdscaler::http {

std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out.push_back(static_cast<char>(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace pdscaler::http
