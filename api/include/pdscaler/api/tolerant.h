#pragma once
// Tolerant reads of the JSON the API server sends: a missing optional field is simply absent; a
// null, a value of the wrong type or an unknown enum value becomes "unknown" (absent) with a
// warning that names its path. Never throws: one odd field in one object must not stop a reconcile.
//
//   std::vector<std::string> warnings;
//   TolerantReader r(warnings);
//   std::optional<std::string> phase = r.string(pod_status, "phase", "status.phase");

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pdscaler/api/time.h"

namespace pdscaler::api {

// How a value reads when shown in a message: "\"text\"", 12, true, null, a map, a list.
std::string show(const nlohmann::json& v);

class TolerantReader {
 public:
  explicit TolerantReader(std::vector<std::string>& warnings) : warnings_(warnings) {}

  void warn(const std::string& path, const std::string& message);

  // The member `key` of `obj` when present and not null (null gives a warning); nullptr otherwise
  // (also when `obj` is not an object).
  const nlohmann::json* member(const nlohmann::json& obj, std::string_view key, const std::string& path);

  // The value itself, read as one type; anything else gives a warning and nullopt.
  std::optional<std::string> as_string(const nlohmann::json& v, const std::string& path);
  std::optional<std::int64_t> as_integer(const nlohmann::json& v, const std::string& path);
  std::optional<int> as_int(const nlohmann::json& v, const std::string& path);
  std::optional<double> as_number(const nlohmann::json& v, const std::string& path);
  std::optional<bool> as_boolean(const nlohmann::json& v, const std::string& path);
  std::optional<Time> as_time(const nlohmann::json& v, const std::string& path);
  const nlohmann::json* as_object(const nlohmann::json& v, const std::string& path);
  const nlohmann::json* as_array(const nlohmann::json& v, const std::string& path);

  // member() then as_*(): the usual way to read one field.
  std::optional<std::string> string(const nlohmann::json& obj, std::string_view key, const std::string& path);
  std::optional<std::int64_t> integer(const nlohmann::json& obj, std::string_view key, const std::string& path);
  std::optional<int> int32(const nlohmann::json& obj, std::string_view key, const std::string& path);
  std::optional<double> number(const nlohmann::json& obj, std::string_view key, const std::string& path);
  std::optional<bool> boolean(const nlohmann::json& obj, std::string_view key, const std::string& path);
  std::optional<Time> time(const nlohmann::json& obj, std::string_view key, const std::string& path);
  const nlohmann::json* object(const nlohmann::json& obj, std::string_view key, const std::string& path);
  const nlohmann::json* array(const nlohmann::json& obj, std::string_view key, const std::string& path);

 private:
  // member() then `as` on it; absent (nullopt or null) when the member is.
  template <class As>
  auto read(const nlohmann::json& obj, std::string_view key, const std::string& path, As as)
      -> decltype((this->*as)(obj, path)) {
    const nlohmann::json* v = member(obj, key, path);
    if (!v) return {};
    return (this->*as)(*v, path);
  }

  std::vector<std::string>& warnings_;
};

std::string join_path(const std::string& path, std::string_view key);
std::string index_path(const std::string& path, std::size_t i);

}  // namespace pdscaler::api
