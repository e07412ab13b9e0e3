#pragma once
// Measures each PDDeployment with spec.metrics on its own timer, off the reconcile path: a few
// threads run the Prometheus queries, keep the newest result per key and wake the controller for
// it. A slow or dead Prometheus holds only the PDDeployments that use it (and at most one poller
// thread each), never a reconcile.
//
//   MetricsPoller p(4, measure, [&](const std::string& key) { queue.add(key); });
//   p.start();
//   p.want("ns/a", job, 15s, generation);   // from reconcile: poll this key every 15 s
//   if (auto r = p.take("ns/a")) ...         // from reconcile: the newest result, once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/ctl/clock.h"
#include "pdscaler/reconcile/observation.h"

namespace pdscaler::ctl {

class MetricsPoller {
 public:
  using Clock = TimeSource::Steady;
  struct Job {
    std::string namespace_;
    api::MetricsSpec metrics;
    bool want_history = false;  // also read the last 7.5 days of the rate and work (seasonal forecast)
  };
  struct Result {
    std::chrono::system_clock::time_point at;  // when the queries were sent
    tl::expected<reconcile::ObservedLoad, std::string> load{tl::unexpect, "not measured"};
    // Only when the job asked for it: the rate history, or why there is none; and the same of
    // the input and output tokens/s.
    using Series = tl::expected<std::vector<std::pair<double, double>>, std::string>;
    std::optional<Series> history, input_history, output_history;
    std::int64_t generation = 0;  // of the job that was measured
    double seconds = 0;           // how long the measurement took
  };
  // Runs one measurement (on a poller thread; may block for the source's timeouts).
  using Measure = std::function<Result(const std::string& key, const Job& job)>;

  MetricsPoller(int threads, Measure measure, std::function<void(const std::string& key)> on_result,
                TimeSource& clock = TimeSource::real());
  ~MetricsPoller();
  MetricsPoller(const MetricsPoller&) = delete;
  MetricsPoller& operator=(const MetricsPoller&) = delete;

  void start();
  void stop();

  // Polls `key` every `interval`: at once when it is new or its generation changed; otherwise the
  // job is updated for the next poll and the timer kept.
  void want(const std::string& key, Job job, std::chrono::milliseconds interval, std::int64_t generation);
  void forget(const std::string& key);
  // The newest result for `key` not taken yet (one of the current generation only).
  std::optional<Result> take(const std::string& key);
  // Keys being polled, and how many measurements are running now (for tests and metrics).
  std::size_t size() const;
  int in_flight() const;

 private:
  struct Entry {
    Job job;
    std::chrono::milliseconds interval{0};
    std::int64_t generation = 0;
    Clock::time_point due{};
    bool running = false;
    std::optional<Result> latest;
  };
  void loop();

  const int threads_;
  Measure measure_;
  std::function<void(const std::string&)> on_result_;
  TimeSource& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  int running_ = 0;
  bool stopped_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace pdscaler::ctl
