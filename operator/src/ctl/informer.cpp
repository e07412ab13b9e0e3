#include "pdscaler/ctl/informer.h"

#include <algorithm>
#include <thread>

namespace pdscaler::ctl {

using nlohmann::json;

Informer::Informer(kube::KubeClient& client, std::string collection, OnChange on_change, OnError on_error, Trim trim)
    : client_(client), collection_(std::move(collection)), on_change_(std::move(on_change)),
      on_error_(std::move(on_error)), trim_(std::move(trim)) {}

namespace {
// resourceVersion is opaque by contract, but etcd3's are increasing integers; only when both parse
// is an event recognised as older than the copy we hold.
bool older(const json& a, const json& b) {
  try {
    return std::stoll(a["metadata"].value("resourceVersion", "")) <
           std::stoll(b["metadata"].value("resourceVersion", ""));
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

std::string Informer::key_of(const json& o) {
  std::vector<std::string> ignored;
  api::TolerantReader r(ignored);
  return api::key_of(api::decode_object_meta(o, r));
}

bool Informer::sleep_unless_stopped(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopped_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return !stopped_;
}

void Informer::run() {
  std::chrono::milliseconds backoff(200);
  const std::chrono::milliseconds max_backoff(5000);
  while (!stopped_) {
    auto listed = client_.list(collection_);
    if (!listed) {
      if (on_error_) on_error_(listed.error());
      if (!sleep_unless_stopped(backoff)) break;
      backoff = std::min(backoff * 2, max_backoff);
      continue;
    }
    std::vector<std::pair<std::string, std::optional<json>>> changes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::map<std::string, json> fresh;
      for (auto& item : listed->items) {
        const std::string key = key_of(item);  // before the move: json's operator= takes by value
        fresh[key] = trim_ ? trim_(item) : std::move(item);
      }
      for (const auto& [k, v] : items_)
        if (!fresh.count(k)) changes.emplace_back(k, std::nullopt);
      for (const auto& [k, v] : fresh) changes.emplace_back(k, v);
      items_ = std::move(fresh);
    }
    synced_ = true;
    for (const auto& [k, v] : changes) on_change_(k, v ? &*v : nullptr);

    std::string rv = listed->resource_version;
    while (!stopped_) {
      auto w = client_.watch(collection_, rv, 60, [&](api::WatchEvent& ev) {
        if (!ev.resource_version.empty()) rv = ev.resource_version;
        if (ev.type == api::WatchEventType::Bookmark) return !stopped_;
        if (trim_) ev.object = trim_(ev.object);
        const json& obj = ev.object;
        const bool deleted = ev.type == api::WatchEventType::Deleted;
        const std::string key = key_of(obj);
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (deleted) {
            items_.erase(key);
          } else if (auto it = items_.find(key); it != items_.end() && older(obj, it->second)) {
            return !stopped_;  // we already hold a newer copy (written by us)
          } else {
            items_[key] = obj;
          }
        }
        on_change_(key, deleted ? nullptr : &obj);
        return !stopped_;
      });
      if (stopped_) break;
      if (w) {
        backoff = std::chrono::milliseconds(200);
        continue;  // the server ended a quiet watch: watch again from rv
      }
      if (w.error().code == kube::ErrorCode::Gone) break;  // relist
      if (on_error_) on_error_(w.error());
      if (!sleep_unless_stopped(backoff)) break;
      backoff = std::min(backoff * 2, max_backoff);
      break;  // relist after an error: events may have been missed
    }
  }
}

void Informer::stop() { stopped_ = true; }

std::optional<json> Informer::get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

std::vector<json> Informer::objects() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<json> Informer::select(const std::function<bool(const std::string&, const json&)>& keep) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (const auto& [k, v] : items_)
    if (keep(k, v)) out.push_back(v);
  return out;
}

void Informer::update_local(const std::string& key, const json& object) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end() || !older(object, it->second)) items_[key] = object;
}

}  // namespace pdscaler::ctl
