#include <ctime>
#include <map>
#include <mutex>

#include "pdscaler/kube/client.h"

namespace pdscaler::kube {
namespace {

using nlohmann::json;

constexpr const char* kPDDeployments = "/apis/pdscaler.io/v1alpha1/namespaces/";
constexpr const char* kMergePatch = "application/merge-patch+json";

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
    auto r = call("list", req("GET", collection));
    if (!r) return tl::unexpected(r.error());
    ListResult out;
    out.resource_version = (*r)["metadata"].value("resourceVersion", "");
    for (auto& item : (*r)["items"]) out.items.push_back(std::move(item));
    return out;
  }

  Result<void> watch(const std::string& collection, const std::string& rv, int timeout_s,
                     const WatchHandler& handler) override {
    const std::string sep = collection.find('?') == std::string::npos ? "?" : "&";
    const std::string path = collection + sep + "watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             rv + "&timeoutSeconds=" + std::to_string(timeout_s);
    std::optional<ApiError> in_stream;
    auto r = watch_http_->stream(req("GET", path), [&](const std::string& line) {
      const json ev = json::parse(line, nullptr, false);
      if (!ev.is_object() || !ev.contains("type")) return true;
      const std::string type = ev["type"];
      if (type == "ERROR") {
        const int code = ev["object"].value("code", 500);
        in_stream = ApiError{code_for(code), code, ev["object"].value("message", "watch error")};
        return false;
      }
      return handler(type, ev["object"]);
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

  Result<Scale> get_scale(const TargetRef& t) override {
    auto path = object_path(t);
    if (!path) return tl::unexpected(path.error());
    auto r = call("get", req("GET", *path + "/scale"));
    if (!r) return tl::unexpected(r.error());
    return to_scale(*r);
  }

  Result<Scale> set_scale(const TargetRef& t, int replicas) override {
    auto path = object_path(t);
    if (!path) return tl::unexpected(path.error());
    const json patch = {{"spec", {{"replicas", replicas}}}};
    auto r = call("patch", req("PATCH", *path + "/scale", patch.dump(), kMergePatch));
    if (!r) return tl::unexpected(r.error());
    return to_scale(*r);
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
                             patch.dump(), kMergePatch));
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
        {"firstTimestamp", format_time(now)},
        {"lastTimestamp", format_time(now)},
        {"eventTime", format_micro_time(now)},
        {"count", 1},
    };
    auto r = call("create", req("POST", "/api/v1/namespaces/" + ns + "/events", body.dump()));
    if (!r) return tl::unexpected(r.error());
    return {};
  }

  Result<std::optional<Lease>> get_lease(const std::string& ns, const std::string& name) override {
    auto r = call("get", req("GET", lease_path(ns) + "/" + name));
    if (!r) {
      if (r.error().code == ErrorCode::NotFound) return std::optional<Lease>();
      return tl::unexpected(r.error());
    }
    return std::optional<Lease>(to_lease(*r));
  }

  Result<Lease> create_lease(const Lease& l) override {
    auto r = call("create", req("POST", lease_path(l.namespace_), lease_json(l).dump()));
    if (!r) return tl::unexpected(r.error());
    return to_lease(*r);
  }

  Result<Lease> update_lease(const Lease& l) override {
    auto r = call("update", req("PUT", lease_path(l.namespace_) + "/" + l.name, lease_json(l).dump()));
    if (!r) return tl::unexpected(r.error());
    return to_lease(*r);
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
    for (const auto& res : (*r)["resources"]) {
      const std::string name = res.value("name", "");
      if (res.value("kind", "") == kind && name.find('/') == std::string::npos) {
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

  static Scale to_scale(const json& j) {
    Scale s;
    if (j.contains("spec")) s.spec_replicas = j["spec"].value("replicas", 0);
    if (j.contains("status")) {
      s.status_replicas = j["status"].value("replicas", 0);
      s.selector = j["status"].value("selector", "");
    }
    return s;
  }

  static std::string lease_path(const std::string& ns) {
    return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases";
  }

  static json lease_json(const Lease& l) {
    json spec = {{"holderIdentity", l.holder},
                 {"leaseDurationSeconds", l.lease_duration_s},
                 {"leaseTransitions", l.transitions}};
    if (!l.acquire_time.empty()) spec["acquireTime"] = l.acquire_time;
    if (!l.renew_time.empty()) spec["renewTime"] = l.renew_time;
    json meta = {{"name", l.name}, {"namespace", l.namespace_}};
    if (!l.resource_version.empty()) meta["resourceVersion"] = l.resource_version;
    return {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", meta}, {"spec", spec}};
  }

  static Lease to_lease(const json& j) {
    Lease l;
    l.namespace_ = j["metadata"].value("namespace", "");
    l.name = j["metadata"].value("name", "");
    l.resource_version = j["metadata"].value("resourceVersion", "");
    const json spec = j.value("spec", json::object());
    l.holder = spec.value("holderIdentity", "");
    l.lease_duration_s = spec.value("leaseDurationSeconds", 15);
    l.acquire_time = spec.value("acquireTime", "");
    l.renew_time = spec.value("renewTime", "");
    l.transitions = spec.value("leaseTransitions", 0);
    return l;
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

std::string format_time(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros));
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (*end == '.') {
    double frac = std::atof(end);
    t += std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(frac));
  }
  return t;
}

}  // namespace pdscaler::kube
