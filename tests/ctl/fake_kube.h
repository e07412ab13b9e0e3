#pragma once
// An in-memory API server for controller tests: collections of JSON objects with increasing
// resourceVersions, list and watch (events in order, from a resourceVersion on), /scale of
// Deployments, status merge patches, events; and a count of every call by verb, so a test can say
// how many reads a reconcile made; StatefulSets (served through /scale only, as a kind the
// controller does not watch); Leases with resourceVersion conflicts; and failures on demand.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pdscaler/api/objects.h"
#include "pdscaler/kube/client.h"

namespace pdscaler::testing {

class FakeKube final : public kube::KubeClient {
 public:
  // Cluster-wide collection paths the controller uses.
  static constexpr const char* kPdds = "/apis/pdscaler.io/v1alpha1/pddeployments";
  static constexpr const char* kDeployments = "/apis/apps/v1/deployments";
  static constexpr const char* kPods = "/api/v1/pods";
  static constexpr const char* kStatefulSets = "/apis/apps/v1/statefulsets";

  // While set, every call of `verb` ("list", "get_lease", ...) fails with a 503.
  void fail(const std::string& verb, bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_[verb] = on;
  }

  // Creates or replaces an object (its metadata.namespace/name say where), bumping resourceVersion
  // and, for a spec change of a PDDeployment, the generation.
  void put(const std::string& collection, nlohmann::json obj) {
    std::lock_guard<std::mutex> lock(mu_);
    put_locked(collection, std::move(obj));
  }

  // Watch events of `collection` reach watchers only this long after the change (a slow watch).
  void delay_watch(const std::string& collection, std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_[collection] = d;
  }

  int calls(const std::string& verb) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[verb];
  }
  std::map<std::string, int> all_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::optional<nlohmann::json> object(const std::string& collection, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& c = store_[collection];
    auto it = c.find(key);
    if (it == c.end()) return std::nullopt;
    return it->second;
  }

  kube::Result<kube::ListResult> list(const std::string& collection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["list"];
    if (failing_["list"]) return tl::unexpected(unavailable());
    kube::ListResult out;
    for (const auto& [k, v] : store_[collection]) out.items.push_back(v);
    out.resource_version = std::to_string(rv_);
    return out;
  }

  kube::Result<void> watch(const std::string& collection, const std::string& resource_version, int timeout_s,
                           const kube::WatchHandler& handler) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_["watch"];
    long long from = 0;
    try {
      from = std::stoll(resource_version);
    } catch (const std::exception&) {
    }
    const auto generation = cancel_generation_;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    size_t next = 0;
    while (cancel_generation_ == generation && std::chrono::steady_clock::now() < end) {
      for (; next < log_.size(); ++next) {
        const Logged& e = log_[next];
        if (e.collection != collection || e.rv <= from) continue;
        if (std::chrono::steady_clock::now() < e.at + delay_[collection]) break;  // not yet
        api::WatchEvent ev;
        ev.type = e.type;
        ev.object = e.object;
        ev.resource_version = std::to_string(e.rv);
        lock.unlock();
        const bool more = handler(ev);
        lock.lock();
        if (!more) return {};
      }
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    return {};
  }

  void cancel_watches() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancel_generation_;
    cv_.notify_all();
  }

  kube::Result<api::Scale> get_scale(const kube::TargetRef& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["get_scale"];
    return scale_of(t);
  }

  kube::Result<api::Scale> set_scale(const kube::TargetRef& t, int replicas) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["set_scale"];
    auto& c = store_[collection_of(t.kind)];
    auto it = c.find(t.namespace_ + "/" + t.name);
    if (it == c.end()) return tl::unexpected(not_found(t.name));
    nlohmann::json obj = it->second;
    obj["spec"]["replicas"] = replicas;
    put_locked(collection_of(t.kind), obj);
    return scale_of(t);
  }

  kube::Result<nlohmann::json> get_object(const kube::TargetRef& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["get_object"];
    auto& c = store_[t.kind == "Secret" ? "/api/v1/secrets" : collection_of(t.kind)];
    auto it = c.find(t.namespace_ + "/" + t.name);
    if (it == c.end()) return tl::unexpected(not_found(t.name));
    return it->second;
  }

  kube::Result<std::string> collection_path(const std::string&, const std::string& kind, const std::string&) override {
    if (kind == "Deployment") return std::string(kDeployments);
    if (kind == "StatefulSet") return std::string(kStatefulSets);
    return tl::unexpected(kube::ApiError{kube::ErrorCode::NotFound, 404, "kind " + kind + " is not served"});
  }

  kube::Result<nlohmann::json> patch_pddeployment_status(const std::string& ns, const std::string& name,
                                                         const nlohmann::json& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["patch_status"];
    auto& c = store_[kPdds];
    auto it = c.find(ns + "/" + name);
    if (it == c.end()) return tl::unexpected(not_found(name));
    nlohmann::json obj = it->second;
    obj["status"].merge_patch(status);
    put_locked(kPdds, obj, /*status_only=*/true);
    return store_[kPdds][ns + "/" + name];
  }

  kube::Result<void> create_event(const std::string&, const kube::Event& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["create_event"];
    events_.push_back(e.reason);
    return {};
  }

  kube::Result<std::optional<api::Lease>> get_lease(const std::string& ns, const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["get_lease"];
    if (failing_["get_lease"]) return tl::unexpected(unavailable());
    auto it = leases_.find(ns + "/" + name);
    if (it == leases_.end()) return std::optional<api::Lease>{};
    return std::optional<api::Lease>{it->second};
  }
  kube::Result<api::Lease> create_lease(const api::Lease& l) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["create_lease"];
    if (failing_["create_lease"]) return tl::unexpected(unavailable());
    auto [it, fresh] = leases_.try_emplace(l.namespace_ + "/" + l.name, l);
    if (!fresh) return tl::unexpected(kube::ApiError{kube::ErrorCode::Conflict, 409, "leases \"" + l.name + "\" already exists"});
    it->second.resource_version = std::to_string(++rv_);
    return it->second;
  }
  kube::Result<api::Lease> update_lease(const api::Lease& l) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_["update_lease"];
    if (failing_["update_lease"]) return tl::unexpected(unavailable());
    auto it = leases_.find(l.namespace_ + "/" + l.name);
    if (it == leases_.end()) return tl::unexpected(not_found(l.name));
    if (it->second.resource_version != l.resource_version)
      return tl::unexpected(kube::ApiError{kube::ErrorCode::Conflict, 409, "the object has been modified"});
    it->second = l;
    it->second.resource_version = std::to_string(++rv_);
    return it->second;
  }
  std::optional<api::Lease> lease(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(key);
    if (it == leases_.end()) return std::nullopt;
    return it->second;
  }

 private:
  struct Logged {
    std::string collection;
    long long rv;
    std::chrono::steady_clock::time_point at;
    api::WatchEventType type;
    nlohmann::json object;
  };

  static const char* collection_of(const std::string& kind) {
    return kind == "Deployment" ? kDeployments : kind == "StatefulSet" ? kStatefulSets : "?";
  }
  static kube::ApiError unavailable() { return kube::ApiError{kube::ErrorCode::Unavailable, 503, "the fake is failing"}; }
  static kube::ApiError not_found(const std::string& name) {
    return kube::ApiError{kube::ErrorCode::NotFound, 404, "\"" + name + "\" not found"};
  }

  kube::Result<api::Scale> scale_of(const kube::TargetRef& t) {
    auto& c = store_[collection_of(t.kind)];
    auto it = c.find(t.namespace_ + "/" + t.name);
    if (it == c.end()) return tl::unexpected(not_found(t.name));
    const nlohmann::json& o = it->second;
    api::Scale s;
    s.resource_version = o["metadata"]["resourceVersion"].get<std::string>();
    s.spec_replicas = o["spec"].value("replicas", 1);
    s.status_replicas = o.contains("status") ? o["status"].value("replicas", 0) : 0;
    std::string sel;
    for (const auto& [k, v] : o["spec"]["selector"]["matchLabels"].items())
      sel += (sel.empty() ? "" : ",") + k + "=" + v.get<std::string>();
    s.selector = sel;
    return s;
  }

  void put_locked(const std::string& collection, nlohmann::json obj, bool status_only = false) {
    const std::string key = obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
    auto& c = store_[collection];
    auto it = c.find(key);
    const bool fresh = it == c.end();
    long long generation = fresh ? 1 : it->second["metadata"].value("generation", 1LL);
    if (!fresh && !status_only && it->second.value("spec", nlohmann::json()) != obj.value("spec", nlohmann::json()))
      ++generation;
    if (!fresh && !obj.contains("status") && it->second.contains("status")) obj["status"] = it->second["status"];
    obj["metadata"]["generation"] = generation;
    obj["metadata"]["uid"] = "uid-" + key;
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    c[key] = obj;
    log_.push_back({collection, rv_, std::chrono::steady_clock::now(), fresh ? api::WatchEventType::Added : api::WatchEventType::Modified, obj});
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<std::string, nlohmann::json>> store_;
  std::vector<Logged> log_;
  long long rv_ = 100;
  int cancel_generation_ = 0;
  std::map<std::string, int> calls_;
  std::map<std::string, std::chrono::milliseconds> delay_;
  std::vector<std::string> events_;
  std::map<std::string, bool> failing_;
  std::map<std::string, api::Lease> leases_;
};

}  // namespace pdscaler::testing
