#pragma once
// An http::Client for fuzz targets: every answer comes from the fuzz input. Requests take the
// input's parts (separated by a line holding only "---") in turn, the first line of a part is the
// status code when it is a number, and a streamed answer is handed over line by line as a chunked
// body would arrive, the last line possibly cut short.

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "pdscaler/http/client.h"

namespace pdscaler::fuzz {

inline std::vector<std::string> split_parts(std::string_view in) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (true) {
    const std::size_t sep = in.find("\n---\n", at);
    if (sep == std::string_view::npos) {
      parts.emplace_back(in.substr(at));
      return parts;
    }
    parts.emplace_back(in.substr(at, sep - at));
    at = sep + 5;
  }
}

class FakeHttp final : public http::Client {
 public:
  explicit FakeHttp(std::vector<std::string> parts) : parts_(std::move(parts)) {}

  http::Result<http::Response> send(const http::Request&) override { return next(); }

  http::Result<http::Response> stream(const http::Request&,
                                      const std::function<bool(const std::string&)>& on_line) override {
    auto r = next();
    if (!r || r->status != 200) return r;
    std::size_t at = 0;
    const std::string& body = r->body;
    while (at < body.size()) {
      std::size_t nl = body.find('\n', at);
      if (nl == std::string::npos) nl = body.size();
      if (!on_line(body.substr(at, nl - at))) break;
      at = nl + 1;
    }
    r->body.clear();
    return r;
  }

  void cancel_streams() override {}

 private:
  http::Result<http::Response> next() {
    if (parts_.empty() || i_ >= parts_.size() * 2) return tl::unexpected(http::TransportError{"connection refused"});
    std::string part = parts_[i_++ % parts_.size()];
    if (part == "TIMEOUT") return tl::unexpected(http::TransportError{"timed out", true});
    int status = 200;
    const std::size_t nl = part.find('\n');
    const std::string_view first = std::string_view(part).substr(0, nl == std::string::npos ? part.size() : nl);
    int code = 0;
    auto [p, ec] = std::from_chars(first.data(), first.data() + first.size(), code);
    if (ec == std::errc() && p == first.data() + first.size() && code >= 100 && code <= 599) {
      status = code;
      part = nl == std::string::npos ? "" : part.substr(nl + 1);
    }
    return http::Response{status, std::move(part)};
  }

  std::vector<std::string> parts_;
  std::size_t i_ = 0;
};

}  // namespace pdscaler::fuzz
