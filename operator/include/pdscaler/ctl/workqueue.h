#pragma once
// A de-duplicating queue of keys with delayed re-adds and per-key exponential backoff, as
// controller-runtime's rate-limited queue: a key is never processed by two workers at once and
// is queued once however often it is added.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "pdscaler/ctl/clock.h"

namespace pdscaler::ctl {

class WorkQueue {
 public:
  using Clock = TimeSource::Steady;

  explicit WorkQueue(TimeSource& clock = TimeSource::real()) : clock_(clock) {}

  void add(const std::string& key) { add_at(key, clock_.now()); }
  void add_after(const std::string& key, std::chrono::milliseconds d) { add_at(key, clock_.now() + d); }
  // Re-adds after a backoff that doubles per consecutive failure (100 ms up to `cap`).
  void add_rate_limited(const std::string& key, std::chrono::milliseconds cap = std::chrono::seconds(30)) {
    std::chrono::milliseconds d(100);
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int n = failures_[key]++;
      for (int i = 0; i < n && d < cap; ++i) d *= 2;
    }
    add_after(key, std::min(d, cap));
  }
  void forget(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.erase(key);
  }

  // Blocks until a key is due or shutdown(); nullopt on shutdown.
  std::optional<std::string> get() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!shutdown_) {
      const auto now = clock_.now();
      for (auto it = due_.begin(); it != due_.end() && it->first <= now; ++it) {
        if (processing_.count(it->second)) continue;
        std::string key = it->second;
        due_.erase(it);
        queued_.erase(key);
        processing_.insert(key);
        return key;
      }
      if (due_.empty()) {
        cv_.wait(lock);
      } else {
        // A copy: wait_until re-reads its deadline while the lock is released, and other threads
        // may erase the node it would otherwise point into.
        const Clock::time_point deadline = std::max(due_.begin()->first, now + std::chrono::milliseconds(5));
        clock_.wait_until(cv_, lock, deadline);
      }
    }
    return std::nullopt;
  }

  void done(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    processing_.erase(key);
    cv_.notify_all();
  }

  void shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    cv_.notify_all();
  }

 private:
  void add_at(const std::string& key, Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = queued_.find(key); it != queued_.end()) {
      if (it->second <= at) return;  // already due sooner
      for (auto d = due_.begin(); d != due_.end(); ++d)
        if (d->second == key && d->first == it->second) {
          due_.erase(d);
          break;
        }
    }
    queued_[key] = at;
    due_.emplace(at, key);
    cv_.notify_all();
  }

  TimeSource& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::string> due_;
  std::map<std::string, Clock::time_point> queued_;
  std::set<std::string> processing_;
  std::map<std::string, int> failures_;
  bool shutdown_ = false;
};

}  // namespace pdscaler::ctl
