// The metrics poller: each key on its own timer, measurements off the caller's thread, a slow
// measurement holding only its own key, a new generation measured at once and its stale results
// never handed out.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "ctl/eventually.h"
#include "pdscaler/ctl/metrics_poller.h"

namespace pdscaler::ctl {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::mutex mu;
  std::map<std::string, int> measured, woken;
  std::atomic<int> slow_ms{0};
  MetricsPoller::Result measure(const std::string& key, const MetricsPoller::Job& job) {
    if (key == "ns/slow") std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms.load()));
    {
      std::lock_guard<std::mutex> lock(mu);
      ++measured[key];
    }
    MetricsPoller::Result r;
    r.at = std::chrono::system_clock::now();
    reconcile::ObservedLoad o;
    o.requests_per_s = job.metrics.evaluation_interval_s;  // which job was measured
    r.load = o;
    return r;
  }
  int count(std::map<std::string, int>& m, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    return m[key];
  }
};

MetricsPoller::Job job(double marker) {
  MetricsPoller::Job j;
  j.namespace_ = "ns";
  j.metrics.evaluation_interval_s = marker;
  return j;
}

using testing::eventually;

TEST(MetricsPoller, ASlowMeasurementHoldsOnlyItsOwnKey) {
  Recorder rec;
  rec.slow_ms = 1000;
  MetricsPoller p(
      2, [&](const std::string& k, const MetricsPoller::Job& j) { return rec.measure(k, j); },
      [&](const std::string& k) {
        std::lock_guard<std::mutex> lock(rec.mu);
        ++rec.woken[k];
      });
  p.start();
  p.want("ns/slow", job(1), 100ms, 1);
  p.want("ns/fast", job(2), 100ms, 1);
  // While the slow one is still in its first measurement, the fast one keeps its interval.
  ASSERT_TRUE(eventually([&] { return rec.count(rec.measured, "ns/fast") >= 5; }, 800ms))
      << rec.count(rec.measured, "ns/fast") << " fast measurements";
  EXPECT_EQ(rec.count(rec.measured, "ns/slow"), 0);
  EXPECT_EQ(p.in_flight(), 1) << "the slow one, on its own thread";
  EXPECT_GE(rec.count(rec.woken, "ns/fast"), 5) << "every result wakes the caller";
  ASSERT_TRUE(eventually([&] { return rec.count(rec.measured, "ns/slow") >= 1; }));
  p.stop();
}

TEST(MetricsPoller, TakeHandsOutTheNewestResultOnce) {
  Recorder rec;
  std::atomic<int> woken{0};
  MetricsPoller p(
      1, [&](const std::string& k, const MetricsPoller::Job& j) { return rec.measure(k, j); }, [&](const std::string&) { ++woken; });
  EXPECT_FALSE(p.take("ns/a")) << "nothing wanted";
  p.start();
  p.want("ns/a", job(7), 10s, 1);  // measured at once, then not for 10 s
  ASSERT_TRUE(eventually([&] { return woken.load() >= 1; }));
  auto r = p.take("ns/a");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->load);
  EXPECT_EQ(r->load->requests_per_s, 7);
  EXPECT_EQ(r->generation, 1);
  EXPECT_FALSE(p.take("ns/a")) << "once";
  // The same generation again: the job is updated, the timer kept (no new measurement now).
  p.want("ns/a", job(8), 10s, 1);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(rec.count(rec.measured, "ns/a"), 1);
  // A new generation: measured at once, with the new job.
  p.want("ns/a", job(9), 10s, 2);
  ASSERT_TRUE(eventually([&] { return woken.load() >= 2; }));
  r = p.take("ns/a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->load->requests_per_s, 9);
  EXPECT_EQ(r->generation, 2);
  p.stop();
}

TEST(MetricsPoller, AResultForAReplacedGenerationIsDropped) {
  Recorder rec;
  rec.slow_ms = 300;
  std::atomic<int> woken{0};
  MetricsPoller p(
      2, [&](const std::string& k, const MetricsPoller::Job& j) { return rec.measure(k, j); }, [&](const std::string&) { ++woken; });
  p.start();
  p.want("ns/slow", job(1), 10s, 1);
  ASSERT_TRUE(eventually([&] { return p.in_flight() == 1; }));
  p.want("ns/slow", job(2), 10s, 2);  // while generation 1 is being measured
  ASSERT_TRUE(eventually([&] { return woken.load() >= 1; }));
  auto r = p.take("ns/slow");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->generation, 2) << "generation 1's answer is not handed out";
  EXPECT_EQ(r->load->requests_per_s, 2);
  p.stop();
}

TEST(MetricsPoller, AForgottenKeyIsNoLongerMeasured) {
  Recorder rec;
  MetricsPoller p(
      1, [&](const std::string& k, const MetricsPoller::Job& j) { return rec.measure(k, j); }, [](const std::string&) {});
  p.start();
  p.want("ns/a", job(1), 50ms, 1);
  ASSERT_TRUE(eventually([&] { return rec.count(rec.measured, "ns/a") >= 2; }));
  p.forget("ns/a");
  EXPECT_EQ(p.size(), 0u);
  const int n = rec.count(rec.measured, "ns/a");
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(rec.count(rec.measured, "ns/a"), n + 1) << "at most the one in flight";
  EXPECT_FALSE(p.take("ns/a"));
  p.stop();
}

}  // namespace
}  // namespace pdscaler::ctl
