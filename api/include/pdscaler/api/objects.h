#pragma once
// The Kubernetes objects the operator reads, as the few typed fields it needs (a pod in the cache
// is its labels, node, two conditions and two times, not the whole JSON), decoded tolerantly: a
// missing optional field is absent, a null or a value of the wrong type is unknown with a warning,
// never an exception. Also the watch stream's line format and label selectors.
//
// Every decoder has a text entry point (JSON text in, typed value or error out) for fuzzing:
//
//   auto pod = decode_pod_text(R"({"metadata":{"name":"p"},"status":{"conditions":[...]}})");
//   auto event = parse_watch_line(line);  // {"type":"ADDED","object":{...}}

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/api/time.h"
#include "pdscaler/api/tolerant.h"

namespace pdscaler::api {

// A typed value and what could not be read of it.
template <class T>
struct Decoded {
  T value;
  std::vector<std::string> warnings;
};

ObjectMeta decode_object_meta(const nlohmann::json& object, TolerantReader& r);

// A list answer's metadata: the collection's resourceVersion and the token of the next page.
struct ListMeta {
  std::string resource_version;
  std::string continue_token;  // "" on the last page
};
ListMeta decode_list_meta(const nlohmann::json& list);

// ---- label selectors --------------------------------------------------------------------------

struct LabelRequirement {
  enum class Op { In, NotIn, Exists, DoesNotExist };
  std::string key;
  Op op = Op::Exists;
  std::vector<std::string> values;
  bool operator==(const LabelRequirement&) const = default;
};

// All requirements must hold; no requirement matches everything. A selector that could not be
// read is `invalid` and matches nothing (as the API server treats one it cannot parse).
struct LabelSelector {
  std::vector<LabelRequirement> requirements;
  bool invalid = false;
  bool matches(const std::map<std::string, std::string>& labels) const;
  bool operator==(const LabelSelector&) const = default;
};

// A metav1.LabelSelector object (matchLabels, matchExpressions).
LabelSelector decode_label_selector(const nlohmann::json& selector, const std::string& path, TolerantReader& r);
// The string form, as /scale's status.selector gives it: "app=x,tier in (a,b),!canary,env!=dev".
tl::expected<LabelSelector, std::string> parse_label_selector(std::string_view text);

// ---- workloads, pods, /scale, Leases ---------------------------------------------------------------

// A Deployment or StatefulSet (or any workload with these fields).
struct Workload {
  ObjectMeta metadata;
  int spec_replicas = 1;  // the API's default when unset
  int status_replicas = 0;
  int ready_replicas = 0;
  std::optional<LabelSelector> selector;  // spec.selector
};
Decoded<Workload> decode_workload(const nlohmann::json& object);
tl::expected<Decoded<Workload>, std::string> decode_workload_text(std::string_view text);

struct PodCondition {
  ConditionStatus status = ConditionStatus::Unknown;
  std::string reason;
  std::string message;
  std::optional<Time> last_transition_time;  // unknown when null (the API allows it)
  bool operator==(const PodCondition&) const = default;
};

struct Pod {
  ObjectMeta metadata;
  std::string node_name;  // "" while not scheduled
  std::optional<PodCondition> ready;
  std::optional<PodCondition> scheduled;  // PodScheduled
  bool operator==(const Pod&) const = default;
};
Decoded<Pod> decode_pod(const nlohmann::json& object);
tl::expected<Decoded<Pod>, std::string> decode_pod_text(std::string_view text);

// autoscaling/v1 Scale.
struct Scale {
  std::string resource_version;
  int spec_replicas = 0;
  int status_replicas = 0;
  std::string selector;  // status.selector ("" if none)
};
Decoded<Scale> decode_scale(const nlohmann::json& object);
tl::expected<Decoded<Scale>, std::string> decode_scale_text(std::string_view text);

// coordination.k8s.io/v1 Lease.
struct Lease {
  std::string namespace_;
  std::string name;
  std::string holder;
  int lease_duration_s = 15;
  std::string acquire_time;  // MicroTime text, kept as written
  std::string renew_time;
  int transitions = 0;
  std::string resource_version;
};
Decoded<Lease> decode_lease(const nlohmann::json& object);
tl::expected<Decoded<Lease>, std::string> decode_lease_text(std::string_view text);
nlohmann::json encode_lease(const Lease& l);

// ---- the watch stream -------------------------------------------------------------------------

// metav1.Status, as an error answer or an ERROR watch event carries it.
struct ApiStatus {
  int code = 0;
  std::string reason;
  std::string message;
};
ApiStatus decode_api_status(const nlohmann::json& object);

enum class WatchEventType { Added, Modified, Deleted, Bookmark, Error };
const char* to_string(WatchEventType t);

struct WatchEvent {
  WatchEventType type = WatchEventType::Added;
  nlohmann::json object;  // the object (for Error: the Status)
  ApiStatus error;        // for Error
  std::string resource_version;  // the object's, "" if it has none
};

// One line of a watch response ({"type": ..., "object": {...}}), or why it is not one.
tl::expected<WatchEvent, std::string> parse_watch_line(std::string_view line);

}  // namespace pdscaler::api
