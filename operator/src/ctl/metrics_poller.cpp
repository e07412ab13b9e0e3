#include "pdscaler/ctl/metrics_poller.h"

#include <algorithm>

namespace pdscaler::ctl {

MetricsPoller::MetricsPoller(int threads, Measure measure, std::function<void(const std::string&)> on_result,
                             TimeSource& clock)
    : threads_(std::max(1, threads)), measure_(std::move(measure)), on_result_(std::move(on_result)), clock_(clock) {}

MetricsPoller::~MetricsPoller() { stop(); }

void MetricsPoller::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pool_.empty()) return;
  stopped_ = false;
  for (int i = 0; i < threads_; ++i) pool_.emplace_back([this] { loop(); });
}

void MetricsPoller::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  // A measurement in flight finishes within the source's timeouts; its result is dropped.
  for (auto& t : pool_)
    if (t.joinable()) t.join();
  pool_.clear();
}

void MetricsPoller::want(const std::string& key, Job job, std::chrono::milliseconds interval, std::int64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = entries_.try_emplace(key);
  Entry& e = it->second;
  e.job = std::move(job);
  e.interval = std::max(interval, std::chrono::milliseconds(100));
  if (fresh || e.generation != generation) {
    e.generation = generation;
    e.due = clock_.now();
    e.latest.reset();  // measured for a spec that is gone
    cv_.notify_all();
  }
}

void MetricsPoller::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::optional<MetricsPoller::Result> MetricsPoller::take(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.latest) return std::nullopt;
  std::optional<Result> r = std::move(it->second.latest);
  it->second.latest.reset();
  if (r->generation != it->second.generation) return std::nullopt;
  return r;
}

std::size_t MetricsPoller::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

int MetricsPoller::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

void MetricsPoller::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    // The key due soonest that no other thread is measuring.
    auto next = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (!it->second.running && (next == entries_.end() || it->second.due < next->second.due)) next = it;
    const auto now = clock_.now();
    if (next == entries_.end()) {
      cv_.wait(lock);
      continue;
    }
    if (next->second.due > now) {
      // A copy of the deadline: the entry may go while the lock is released.
      const Clock::time_point deadline = next->second.due;
      clock_.wait_until(cv_, lock, deadline);
      continue;
    }
    const std::string key = next->first;
    const Job job = next->second.job;
    const std::int64_t generation = next->second.generation;
    next->second.running = true;
    ++running_;
    lock.unlock();
    const auto started = clock_.now();
    Result r = measure_(key, job);
    r.generation = generation;
    r.seconds = std::chrono::duration<double>(clock_.now() - started).count();
    lock.lock();
    --running_;
    auto it = entries_.find(key);
    if (it == entries_.end() || stopped_) continue;  // forgotten meanwhile
    Entry& e = it->second;
    e.running = false;
    if (e.generation != generation) continue;  // a new spec came: its poll is due already
    // The next poll an interval after this one began (a slow answer does not push it back
    // further), and not before this one ended.
    e.due = std::max(started + e.interval, clock_.now());
    e.latest = std::move(r);
    lock.unlock();
    on_result_(key);
    lock.lock();
  }
}

}  // namespace pdscaler::ctl
