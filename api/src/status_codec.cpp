#include "pdscaler/api/status_codec.h"

#include <cmath>
#include <type_traits>

#include "pdscaler/api/objects.h"
#include "pdscaler/api/spec_codec.h"
#include "pdscaler/api/tolerant.h"

namespace pdscaler::api {
namespace {

using nlohmann::json;

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
concept HasFields = requires { T::fields; };

const char* condition_status_text(ConditionStatus s) {
  return s == ConditionStatus::True ? "True" : s == ConditionStatus::False ? "False" : "Unknown";
}

template <class T>
json encode_value(const T& v);

template <class S>
json encode_struct(const S& s) {
  json out = json::object();
  std::apply(
      [&](const auto&... f) {
        auto one = [&](const auto& field) {
          const auto& v = s.*(field.member);
          using M = std::remove_cvref_t<decltype(v)>;
          if constexpr (IsOptional<M>::value) {
            if (v) out[field.name] = encode_value(*v);
          } else if constexpr (IsVector<M>::value) {
            if (!v.empty()) out[field.name] = encode_value(v);
          } else {
            out[field.name] = encode_value(v);
          }
        };
        (one(f), ...);
      },
      S::fields);
  return out;
}

template <class T>
json encode_value(const T& v) {
  if constexpr (std::is_same_v<T, Time>) {
    return format_time(v);
  } else if constexpr (std::is_same_v<T, ConditionStatus>) {
    return condition_status_text(v);
  } else if constexpr (std::is_same_v<T, double>) {
    return std::isfinite(v) ? json(v) : json(nullptr);
  } else if constexpr (IsVector<T>::value) {
    json out = json::array();
    for (const auto& e : v) out.push_back(encode_value(e));
    return out;
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::optional<double>>>) {
    json out = json::object();
    for (const auto& [k, x] : v) out[k] = x && std::isfinite(*x) ? json(*x) : json(nullptr);
    return out;
  } else if constexpr (HasFields<T>) {
    return encode_struct(v);
  } else {
    return json(v);
  }
}

template <class T>
std::optional<T> decode_value(const json& v, const std::string& path, TolerantReader& r);

// Members that are not std::optional (or a list) are required: a struct missing one, or with one
// that does not read, is unknown as a whole (a history entry without its time is no evidence).
template <class S>
std::optional<S> decode_struct(const json& obj, const std::string& path, TolerantReader& r) {
  S s;
  bool complete = true;
  std::apply(
      [&](const auto&... f) {
        auto one = [&](const auto& field) {
          auto& into = s.*(field.member);
          using M = std::remove_cvref_t<decltype(into)>;
          const std::string sub = join_path(path, field.name);
          const json* v = r.member(obj, field.name, sub);
          if constexpr (IsOptional<M>::value) {
            if (v) into = decode_value<typename M::value_type>(*v, sub, r);
          } else if constexpr (IsVector<M>::value) {
            if (v) into = decode_value<M>(*v, sub, r).value_or(M{});
          } else if (!v) {
            if (!obj.contains(field.name)) r.warn(sub, "required field is missing");
            complete = false;
          } else if (auto x = decode_value<M>(*v, sub, r)) {
            into = std::move(*x);
          } else {
            complete = false;
          }
        };
        (one(f), ...);
      },
      S::fields);
  if (!complete) {
    r.warn(path, "read as unknown");
    return std::nullopt;
  }
  return s;
}

template <class T>
std::optional<T> decode_value(const json& v, const std::string& path, TolerantReader& r) {
  if constexpr (std::is_same_v<T, std::string>) {
    return r.as_string(v, path);
  } else if constexpr (std::is_same_v<T, int>) {
    return r.as_int(v, path);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return r.as_integer(v, path);
  } else if constexpr (std::is_same_v<T, double>) {
    return r.as_number(v, path);
  } else if constexpr (std::is_same_v<T, bool>) {
    return r.as_boolean(v, path);
  } else if constexpr (std::is_same_v<T, Time>) {
    return r.as_time(v, path);
  } else if constexpr (std::is_same_v<T, ConditionStatus>) {
    const auto s = r.as_string(v, path);
    if (s == "True") return ConditionStatus::True;
    if (s == "False") return ConditionStatus::False;
    if (s && *s != "Unknown") r.warn(path, "unknown condition status \"" + *s + "\"; read as Unknown");
    return ConditionStatus::Unknown;
  } else if constexpr (IsVector<T>::value) {
    T out;
    if (!r.as_array(v, path)) return std::nullopt;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (auto e = decode_value<typename T::value_type>(v[i], index_path(path, i), r)) out.push_back(std::move(*e));
    return out;
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::optional<double>>>) {
    T out;
    if (!r.as_object(v, path)) return std::nullopt;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it->is_null()) {
        out[it.key()] = std::nullopt;  // an unbounded quantity
      } else if (auto x = r.as_number(*it, join_path(path, it.key()))) {
        out[it.key()] = *x;
      }
    }
    return out;
  } else {
    static_assert(HasFields<T>, "a status member of a type the codec cannot read");
    if (!r.as_object(v, path)) return std::nullopt;
    return decode_struct<T>(v, path, r);
  }
}

}  // namespace

json encode_status(const PDDeploymentStatus& s) { return encode_struct(s); }

PDDeploymentStatus decode_status(const json& status, std::vector<std::string>& warnings) {
  TolerantReader r(warnings);
  if (status.is_null()) return {};
  if (!r.as_object(status, "status")) return {};
  return decode_struct<PDDeploymentStatus>(status, "status", r).value_or(PDDeploymentStatus{});
}

json merge_patch(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (auto it = from.begin(); it != from.end(); ++it)
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  for (auto it = to.begin(); it != to.end(); ++it) {
    const auto old = from.find(it.key());
    if (old == from.end()) patch[it.key()] = *it;
    else if (*old != *it) patch[it.key()] = merge_patch(*old, *it);
  }
  return patch;
}

PDDeployment decode_pddeployment(const json& object, const PDDeployment* previous) {
  PDDeployment out;
  TolerantReader r(out.warnings);
  out.metadata = decode_object_meta(object, r);
  const bool same_spec = previous && previous->metadata.uid == out.metadata.uid &&
                         previous->metadata.generation == out.metadata.generation;
  if (same_spec) {
    out.spec = previous->spec;
    out.spec_error = previous->spec_error;
  } else if (auto spec = decode_spec(object)) {
    out.spec = std::move(*spec);
  } else {
    out.spec_error = describe(spec.error());
  }
  if (object.is_object() && object.contains("status")) out.status = decode_status(object["status"], out.warnings);
  return out;
}

tl::expected<PDDeployment, std::string> decode_pddeployment_text(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return tl::unexpected(std::string("not a JSON object"));
  return decode_pddeployment(j);
}

}  // namespace pdscaler::api
