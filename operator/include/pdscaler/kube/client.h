#pragma once
// What the controller needs from the Kubernetes API, as a small typed interface (a REST
// implementation over http::Client; tests may put an in-memory one behind it). Errors are values
// with a code the caller acts on, never classified by message text.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pdscaler/api/objects.h"
#include "pdscaler/http/client.h"

namespace pdscaler::kube {

enum class ErrorCode {
  NotFound,     // 404
  Conflict,     // 409: stale resourceVersion, or already exists
  Gone,         // 410: resourceVersion too old; relist
  Invalid,      // 400, 422
  Forbidden,    // 401, 403
  Unavailable,  // 429, 5xx, transport failures and timeouts: retry with backoff
  Other,
};
const char* to_string(ErrorCode c);

struct ApiError {
  ErrorCode code = ErrorCode::Other;
  int http_status = 0;  // 0 for transport failures
  std::string message;
};

template <typename T>
using Result = tl::expected<T, ApiError>;

struct TargetRef {
  std::string namespace_;
  std::string api_version;
  std::string kind;
  std::string name;
};

struct ListResult {
  std::vector<nlohmann::json> items;
  std::string resource_version;
};

struct Event {
  nlohmann::json involved_object;  // {apiVersion, kind, namespace, name, uid}
  std::string type;                // Normal | Warning
  std::string reason;
  std::string message;
  std::string action;
};

// Called with each watch event but ERROR (which ends the watch with its code); returning false
// ends the watch.
using WatchHandler = std::function<bool(api::WatchEvent& event)>;

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  // Collections by path, e.g. "/apis/pdscaler.io/v1alpha1/pddeployments" (all namespaces) or
  // ".../namespaces/llm/pddeployments".
  virtual Result<ListResult> list(const std::string& collection) = 0;
  // Watches from `resource_version` with bookmarks until the server closes (ok), an error, or the
  // handler stops it. A 410 in the stream or as the answer is ErrorCode::Gone.
  virtual Result<void> watch(const std::string& collection, const std::string& resource_version,
                             int timeout_s, const WatchHandler& handler) = 0;
  virtual void cancel_watches() = 0;

  // The /scale subresource of any resource that has one, and the object itself (for readiness).
  virtual Result<api::Scale> get_scale(const TargetRef& t) = 0;
  virtual Result<api::Scale> set_scale(const TargetRef& t, int replicas) = 0;
  virtual Result<nlohmann::json> get_object(const TargetRef& t) = 0;
  // The collection path of a kind in a namespace ("" = all namespaces), via discovery.
  virtual Result<std::string> collection_path(const std::string& api_version, const std::string& kind,
                                              const std::string& namespace_) = 0;

  // PDDeployment status (merge patch on the status subresource); returns the updated object.
  virtual Result<nlohmann::json> patch_pddeployment_status(const std::string& namespace_, const std::string& name,
                                                 const nlohmann::json& status) = 0;
  virtual Result<void> create_event(const std::string& namespace_, const Event& e) = 0;

  virtual Result<std::optional<api::Lease>> get_lease(const std::string& namespace_, const std::string& name) = 0;
  virtual Result<api::Lease> create_lease(const api::Lease& l) = 0;
  virtual Result<api::Lease> update_lease(const api::Lease& l) = 0;  // conflicts on a stale resourceVersion
};

// Called after every API call with its verb and outcome (for metrics); may be empty.
using ApiObserver = std::function<void(const std::string& verb, int http_status)>;

std::unique_ptr<KubeClient> make_rest_client(std::unique_ptr<http::Client> http,
                                             std::unique_ptr<http::Client> watch_http,
                                             std::string reporting_instance, ApiObserver observer);

}  // namespace pdscaler::kube
