#pragma once
// Keeps an in-memory copy of one collection (list, then watch with bookmarks; relist on 410;
// reconnect with capped backoff) and calls back with the key of every object that changed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pdscaler/ctl/clock.h"
#include "pdscaler/kube/client.h"

namespace pdscaler::ctl {

class Informer {
 public:
  using OnChange = std::function<void(const std::string& key, const nlohmann::json* object)>;
  using OnError = std::function<void(const kube::ApiError&)>;
  // Keeps only what the caller reads of each object (a pod's template and status are most of its
  // size); applied before the object is stored or handed to on_change.
  using Trim = std::function<nlohmann::json(const nlohmann::json&)>;

  // How the cache holds each object: as a tree (fast to read, several times the object's text), or
  // packed (MessagePack, about a sixth of the tree; unpacked at each read: for caches read by key).
  enum class Storage { Tree, Packed };

  Informer(kube::KubeClient& client, std::string collection, OnChange on_change, OnError on_error, Trim trim = {},
           TimeSource& clock = TimeSource::real(), Storage storage = Storage::Tree);

  // Runs until stop() (blocking; give it a thread).
  void run();
  void stop();

  bool synced() const { return synced_; }
  std::optional<nlohmann::json> get(const std::string& key) const;
  std::vector<std::string> keys() const;
  std::vector<nlohmann::json> objects() const;
  // The objects `keep` accepts (under the lock, without copying the rest).
  std::vector<nlohmann::json> select(const std::function<bool(const std::string& key, const nlohmann::json&)>& keep) const;
  // The same, among one namespace's objects only (without looking at the others).
  std::vector<nlohmann::json> select_in(const std::string& ns,
                                        const std::function<bool(const std::string& key, const nlohmann::json&)>& keep) const;
  // Stores a fresher copy written by us (e.g. after a status patch) until the watch catches up
  // (trimmed as the watched ones are).
  void update_local(const std::string& key, const nlohmann::json& object);

  static std::string key_of(const nlohmann::json& object);

 private:
  struct Item {
    std::string resource_version;
    nlohmann::json tree;               // Storage::Tree
    std::vector<std::uint8_t> packed;  // Storage::Packed
  };
  Item make_item(nlohmann::json object) const;
  nlohmann::json value(const Item& item) const;

  kube::KubeClient& client_;
  std::string collection_;
  OnChange on_change_;
  OnError on_error_;
  Trim trim_;
  TimeSource& clock_;
  const Storage storage_;
  mutable std::mutex mu_;
  std::map<std::string, Item> items_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace pdscaler::ctl
