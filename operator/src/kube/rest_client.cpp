// The Kubernetes API over http::Client: typed reads of /scale and Leases, the watch stream parsed
// line by line (api::parse_watch_line), errors mapped to codes.
#include <map>
#include <mutex>

#include "pdscaler/api/time.h"
#include "pdscaler/kube/client.h"

namespace pdscaler::kube {
namespace {

// Request bodies carry messages made of text from elsewhere (Prometheus error bodies, names):
// bytes that are not UTF-8 are replaced, never a throw from the serializer on the write path.
std::string wire(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

using nlohmann::json;

constexpr const char* kPDDeployments = "/apis/pdscaler.io/v1alpha1/namespaces/";
constexpr const char* kMergePatch = "application/merge-patch+json";
constexpr int kListPage = 500;  // objects per list page (client-go's default)

ErrorCode code_for(int status) {
  if (status == 404) return ErrorCode::NotFound;
  if (status == 409) return ErrorCode::Conflict;
  if (status == 410) return ErrorCode::Gone;
  if (status == 400 || status == 422) return ErrorCode::Invalid;
  if (status == 401 || status == 403) return ErrorCode::Forbidden;
  if (status == 429 || status >= 500) return ErrorCode::Unavailable;
  return ErrorCode::Other;
}

// The message of a Kubernetes Status body, or the body itself.
std::string status_message(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"];
  return body.substr(0, 300);
}

http::Request req(std::string method, std::string path, std::string body = "",
                  std::string type = "application/json") {
  return http::Request{std::move(method), std::move(path), std::move(body), std::move(type)};
}

std::string group_version_path(const std::string& api_version) {
  return api_version == "v1" ? "/api/v1" : "/apis/" + api_version;
}

class RestClient final : public KubeClient {
 public:
  RestClient(std::unique_ptr<http::Client> http, std::unique_ptr<http::Client> watch_http,
             std::string instance, ApiObserver observer)
      : http_(std::move(http)), watch_http_(std::move(watch_http)), instance_(std::move(instance)),
        observer_(std::move(observer)) {}

  Result<ListResult> list(const std::string& collection) override {
    // In pages, as client-go's pager does: the server holds one snapshot across the pages (the
    // continue token carries its resourceVersion), and we never hold the text and tree of a list
    // of thousands at once. An expired token is a 410: the caller lists again.
    const std::string sep = collection.find('?') == std::string::npos ? "?" : "&";
    ListResult out;
    std::string token;
    do {
      std::string path = collection + sep + "limit=" + std::to_string(kListPage);
      if (!token.empty()) path += "&continue=" + http::query_escape(token);
      auto r = call("list", req("GET", path));
      if (!r) return tl::unexpected(r.error());
      if (!r->is_object() || !r->contains("items") || !(*r)["items"].is_array())
        return tl::unexpected(ApiError{ErrorCode::Other, 200, "list answer without items"});
      const api::ListMeta meta = api::decode_list_meta(*r);
      if (out.resource_version.empty()) out.resource_version = meta.resource_version;
      for (auto& item : (*r)["items"]) out.items.push_back(std::move(item));
      if (!meta.continue_token.empty() && meta.continue_token == token)
        return tl::unexpected(ApiError{ErrorCode::Other, 200, "list answer repeats its continue token"});
      token = meta.continue_token;
    } while (!token.empty());
    return out;
  }

  Result<void> watch(const std::string& collection, const std::string& rv, int timeout_s,
                     const WatchHandler& handler) override {
    const std::string sep = collection.find('?') == std::string::npos ? "?" : "&";
    const std::string path = collection + sep + "watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             rv + "&timeoutSeconds=" + std::to_string(timeout_s);
    std::optional<ApiError> in_stream;
    auto r = watch_http_->stream(req("GET", path), [&](const std::string& line) {
      auto ev = api::parse_watch_line(line);
      if (!ev) {
        // A line that is not an event (a proxy's page, a truncated line): the stream cannot be
        // trusted from here on; end it and let the caller watch again.
        in_stream = ApiError{ErrorCode::Unavailable, 200, "watch stream: " + ev.error()};
        return false;
      }
      if (ev->type == api::WatchEventType::Error) {
        const int code = ev->error.code ? ev->error.code : 500;
        in_stream = ApiError{code_for(code), code, ev->error.message.empty() ? "watch error" : ev->error.message};
        return false;
      }
      return handler(*ev);
    });
    if (!r) {
      observe("watch", 0);
      return tl::unexpected(ApiError{ErrorCode::Unavailable, 0, r.error().message});
    }
    observe("watch", r->status);
    if (r->status != 200)
      return tl::unexpected(ApiError{code_for(r->status), r->status, status_message(r->body)});
    if (in_stream) return tl::unexpected(*in_stream);
    return {};
  }

  void cancel_watches() override { watch_http_->cancel_streams(); }

  Result<api::Scale> get_scale(const TargetRef& t) override {
    auto path = object_path(t);
    if (!path) return tl::unexpected(path.error());
    auto r = call("get", req("GET", *path + "/scale"));
    if (!r) return tl::unexpected(r.error());
    return api::decode_scale(*r).value;
  }

  Result<api::Scale> set_scale(const TargetRef& t, int replicas) override {
    auto path = object_path(t);
    if (!path) return tl::unexpected(path.error());
    const json patch = {{"spec", {{"replicas", replicas}}}};
    auto r = call("patch", req("PATCH", *path + "/scale", wire(patch), kMergePatch));
    if (!r) return tl::unexpected(r.error());
    return api::decode_scale(*r).value;
  }

  Result<json> get_object(const TargetRef& t) override {
    auto path = object_path(t);
    if (!path) return tl::unexpected(path.error());
    return call("get", req("GET", *path));
  }

  Result<std::string> collection_path(const std::string& api_version, const std::string& kind,
                                      const std::string& ns) override {
    auto plural = resource_name(api_version, kind);
    if (!plural) return tl::unexpected(plural.error());
    return group_version_path(api_version) + (ns.empty() ? "" : "/namespaces/" + ns) + "/" + *plural;
  }

  Result<json> patch_pddeployment_status(const std::string& ns, const std::string& name,
                                         const json& status) override {
    const json patch = {{"status", status}};
    return call("patch", req("PATCH", kPDDeployments + ns + "/pddeployments/" + name + "/status",
                             wire(patch), kMergePatch));
  }

  Result<void> create_event(const std::string& ns, const Event& e) override {
    const auto now = std::chrono::system_clock::now();
    const std::string name = e.involved_object.value("name", "pdscaler");
    const json body = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"generateName", name + "."}, {"namespace", ns}}},
        {"involvedObject", e.involved_object},
        {"type", e.type},
        {"reason", e.reason},
        {"message", e.message},
        {"action", e.action},
        {"source", {{"component", "pdscaler-operator"}}},
        {"reportingComponent", "pdscaler.io/operator"},
        {"reportingInstance", instance_},
        {"firstTimestamp", api::format_time(now)},
        {"lastTimestamp", api::format_time(now)},
        {"eventTime", api::format_micro_time(now)},
        {"count", 1},
    };
    auto r = call("create", req("POST", "/api/v1/namespaces/" + ns + "/events", wire(body)));
    if (!r) return tl::unexpected(r.error());
    return {};
  }

  Result<std::optional<api::Lease>> get_lease(const std::string& ns, const std::string& name) override {
    auto r = call("get", req("GET", lease_path(ns) + "/" + name));
    if (!r) {
      if (r.error().code == ErrorCode::NotFound) return std::optional<api::Lease>();
      return tl::unexpected(r.error());
    }
    return std::optional<api::Lease>(api::decode_lease(*r).value);
  }

  Result<api::Lease> create_lease(const api::Lease& l) override {
    auto r = call("create", req("POST", lease_path(l.namespace_), wire(api::encode_lease(l))));
    if (!r) return tl::unexpected(r.error());
    return api::decode_lease(*r).value;
  }

  Result<api::Lease> update_lease(const api::Lease& l) override {
    auto r = call("update", req("PUT", lease_path(l.namespace_) + "/" + l.name, wire(api::encode_lease(l))));
    if (!r) return tl::unexpected(r.error());
    return api::decode_lease(*r).value;
  }

 private:
  void observe(const std::string& verb, int status) {
    if (observer_) observer_(verb, status);
  }

  Result<json> call(const std::string& verb, const http::Request& req) {
    auto r = http_->send(req);
    if (!r) {
      observe(verb, 0);
      return tl::unexpected(ApiError{ErrorCode::Unavailable, 0, r.error().message});
    }
    observe(verb, r->status);
    if (r->status < 200 || r->status >= 300)
      return tl::unexpected(ApiError{code_for(r->status), r->status, status_message(r->body)});
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded())
      return tl::unexpected(ApiError{ErrorCode::Other, r->status, "response is not JSON"});
    return j;
  }

  Result<std::string> resource_name(const std::string& api_version, const std::string& kind) {
    const std::string key = api_version + "/" + kind;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = plurals_.find(key); it != plurals_.end()) return it->second;
    }
    auto r = call("get", req("GET", group_version_path(api_version)));
    if (!r) {
      if (r.error().code == ErrorCode::NotFound)
        r.error().message = "API group version " + api_version + " is not served";
      return tl::unexpected(r.error());
    }
    std::vector<std::string> ignored;
    api::TolerantReader read(ignored);
    const json* resources = read.array(*r, "resources", "resources");
    for (const json& res : resources ? *resources : json::array()) {
      const std::string name = read.string(res, "name", "name").value_or("");
      if (read.string(res, "kind", "kind") == kind && name.find('/') == std::string::npos) {
        std::lock_guard<std::mutex> lock(mu_);
        plurals_[key] = name;
        return name;
      }
    }
    return tl::unexpected(ApiError{ErrorCode::NotFound, 404, "kind " + kind + " is not served by " + api_version});
  }

  Result<std::string> object_path(const TargetRef& t) {
    auto col = collection_path(t.api_version, t.kind, t.namespace_);
    if (!col) return tl::unexpected(col.error());
    return *col + "/" + t.name;
  }

  static std::string lease_path(const std::string& ns) {
    return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases";
  }

  std::unique_ptr<http::Client> http_;
  std::unique_ptr<http::Client> watch_http_;
  std::string instance_;
  ApiObserver observer_;
  std::mutex mu_;
  std::map<std::string, std::string> plurals_;
};

}  // namespace

const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::Conflict: return "Conflict";
    case ErrorCode::Gone: return "Gone";
    case ErrorCode::Invalid: return "Invalid";
    case ErrorCode::Forbidden: return "Forbidden";
    case ErrorCode::Unavailable: return "Unavailable";
    case ErrorCode::Other: return "Other";
  }
  return "Other";
}

std::unique_ptr<KubeClient> make_rest_client(std::unique_ptr<http::Client> http,
                                             std::unique_ptr<http::Client> watch_http,
                                             std::string reporting_instance, ApiObserver observer) {
  return std::make_unique<RestClient>(std::move(http), std::move(watch_http),
                                      std::move(reporting_instance), std::move(observer));
}

}  // namespace pdscaler::kube
