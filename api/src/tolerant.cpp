#include "pdscaler/api/tolerant.h"

#include <cmath>
#include <limits>

namespace pdscaler::api {

using nlohmann::json;

std::string show(const json& v) {
  if (v.is_string()) return "\"" + v.get_ref<const std::string&>() + "\"";
  if (v.is_object()) return "a map";
  if (v.is_array()) return "a list";
  if (v.is_discarded()) return "nothing";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

void TolerantReader::warn(const std::string& path, const std::string& message) {
  warnings_.push_back(path + ": " + message);
}

const json* TolerantReader::member(const json& obj, std::string_view key, const std::string& path) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  if (it == obj.end()) return nullptr;
  if (it->is_null()) {
    warn(path, "is null; read as unknown");
    return nullptr;
  }
  return &*it;
}

namespace {
std::string expected(const char* what, const json& v) {
  return std::string("expected ") + what + ", got " + show(v) + "; read as unknown";
}
}  // namespace

std::optional<std::string> TolerantReader::as_string(const json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  warn(path, expected("a string", v));
  return std::nullopt;
}

std::optional<std::int64_t> TolerantReader::as_integer(const json& v, const std::string& path) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      warn(path, expected("a whole number in range", v));
      return std::nullopt;
    }
    return v.get<std::int64_t>();
  }
  // Go writes whole floats without a fraction, but other writers may not.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e18) return static_cast<std::int64_t>(d);
  }
  warn(path, expected("a whole number", v));
  return std::nullopt;
}

std::optional<int> TolerantReader::as_int(const json& v, const std::string& path) {
  const auto i = as_integer(v, path);
  if (!i) return std::nullopt;
  if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max()) {
    warn(path, expected("a 32-bit whole number", v));
    return std::nullopt;
  }
  return static_cast<int>(*i);
}

std::optional<double> TolerantReader::as_number(const json& v, const std::string& path) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) return d;
  }
  warn(path, expected("a number", v));
  return std::nullopt;
}

std::optional<bool> TolerantReader::as_boolean(const json& v, const std::string& path) {
  if (v.is_boolean()) return v.get<bool>();
  warn(path, expected("true or false", v));
  return std::nullopt;
}

std::optional<Time> TolerantReader::as_time(const json& v, const std::string& path) {
  if (v.is_string()) {
    if (auto t = parse_time(v.get_ref<const std::string&>())) return t;
  }
  warn(path, expected("an RFC 3339 time", v));
  return std::nullopt;
}

const json* TolerantReader::as_object(const json& v, const std::string& path) {
  if (v.is_object()) return &v;
  warn(path, expected("a map", v));
  return nullptr;
}

const json* TolerantReader::as_array(const json& v, const std::string& path) {
  if (v.is_array()) return &v;
  warn(path, expected("a list", v));
  return nullptr;
}

std::optional<std::string> TolerantReader::string(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_string);
}

std::optional<std::int64_t> TolerantReader::integer(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_integer);
}

std::optional<int> TolerantReader::int32(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_int);
}

std::optional<double> TolerantReader::number(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_number);
}

std::optional<bool> TolerantReader::boolean(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_boolean);
}

std::optional<Time> TolerantReader::time(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_time);
}

const json* TolerantReader::object(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_object);
}

const json* TolerantReader::array(const json& obj, std::string_view key, const std::string& path) {
  return read(obj, key, path, &TolerantReader::as_array);
}

}  // namespace pdscaler::api
