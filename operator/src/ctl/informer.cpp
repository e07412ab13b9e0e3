#include "pdscaler/ctl/informer.h"

#include <algorithm>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace pdscaler::ctl {

using nlohmann::json;

Informer::Informer(kube::KubeClient& client, std::string collection, OnChange on_change, OnError on_error, Trim trim,
                   TimeSource& clock, Storage storage)
    : client_(client), collection_(std::move(collection)), on_change_(std::move(on_change)),
      on_error_(std::move(on_error)), trim_(std::move(trim)), clock_(clock), storage_(storage) {}

namespace {
std::string resource_version_of(const json& o) {
  std::vector<std::string> ignored;
  api::TolerantReader r(ignored);
  return api::decode_object_meta(o, r).resource_version;
}
// resourceVersion is opaque by contract, but etcd3's are increasing integers; only when both parse
// is an event recognised as older than the copy we hold.
bool older(const std::string& a, const std::string& b) {
  try {
    return std::stoll(a) < std::stoll(b);
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

Informer::Item Informer::make_item(json object) const {
  Item it;
  it.resource_version = resource_version_of(object);
  if (storage_ == Storage::Packed) it.packed = json::to_msgpack(object);
  else it.tree = std::move(object);
  return it;
}

json Informer::value(const Item& it) const {
  return storage_ == Storage::Packed ? json::from_msgpack(it.packed) : it.tree;
}

std::string Informer::key_of(const json& o) {
  std::vector<std::string> ignored;
  api::TolerantReader r(ignored);
  return api::key_of(api::decode_object_meta(o, r));
}

void Informer::run() {
  std::chrono::milliseconds backoff(200);
  const std::chrono::milliseconds max_backoff(5000);
  while (!stopped_) {
    auto listed = client_.list(collection_);
    if (!listed) {
      if (on_error_) on_error_(listed.error());
      if (!clock_.sleep_for(backoff, stopped_)) break;
      backoff = std::min(backoff * 2, max_backoff);
      continue;
    }
    std::vector<std::pair<std::string, std::optional<json>>> changes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::map<std::string, Item> fresh;
      for (auto& item : listed->items) {
        const std::string key = key_of(item);
        json kept = trim_ ? trim_(item) : std::move(item);
        item = nullptr;  // the untrimmed copy, freed as we go
        changes.emplace_back(key, kept);
        fresh[key] = make_item(std::move(kept));
      }
      for (const auto& [k, v] : items_)
        if (!fresh.count(k)) changes.emplace_back(k, std::nullopt);
      items_ = std::move(fresh);
    }
    synced_ = true;
    for (const auto& [k, v] : changes) on_change_(k, v ? &*v : nullptr);
    // The list's copies are not needed while watching: free them, and hand the pages of the list's
    // text and tree back to the system (glibc keeps freed heap otherwise; a list of thousands of
    // objects is many times what the cache holds after trimming).
    std::string rv = listed->resource_version;
    changes = {};
    listed = kube::ListResult{};
#ifdef __GLIBC__
    malloc_trim(0);
#endif
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
          } else if (auto it = items_.find(key); it != items_.end() && older(resource_version_of(obj), it->second.resource_version)) {
            return !stopped_;  // we already hold a newer copy (written by us)
          } else {
            items_[key] = make_item(obj);
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
      if (!clock_.sleep_for(backoff, stopped_)) break;
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
  return value(it->second);
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
  for (const auto& [k, v] : items_) out.push_back(value(v));
  return out;
}

std::vector<json> Informer::select(const std::function<bool(const std::string&, const json&)>& keep) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (const auto& [k, v] : items_) {
    json o = value(v);
    if (keep(k, o)) out.push_back(std::move(o));
  }
  return out;
}

std::vector<json> Informer::select_in(const std::string& ns,
                                     const std::function<bool(const std::string&, const json&)>& keep) const {
  // Keys are "namespace/name" in a sorted map: one namespace's objects are the keys from "ns/" up
  // to "ns0" ('0' is the character after '/').
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (auto it = items_.lower_bound(ns + "/"), end = items_.lower_bound(ns + "0"); it != end; ++it)
    if (json o = value(it->second); keep(it->first, o)) out.push_back(std::move(o));
  return out;
}

void Informer::update_local(const std::string& key, const json& object) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end() || !older(resource_version_of(object), it->second.resource_version))
    items_[key] = make_item(trim_ ? trim_(object) : object);
}

}  // namespace pdscaler::ctl
