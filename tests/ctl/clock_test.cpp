// The loops that wait for time, on a fake clock (tests/ctl/fake_clock.h): the work queue's delays
// and backoff, leader election's lease expiry and renew deadline (client-go's 15 s / 10 s / 2 s),
// the informer's relist backoff and the controller's resync, each to the millisecond of the clock
// and in milliseconds of real time.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "ctl/fake_clock.h"
#include "ctl/fake_kube.h"
#include "ctl/eventually.h"
#include "pdscaler/ctl/controller.h"
#include "pdscaler/ctl/informer.h"
#include "pdscaler/ctl/leader.h"
#include "pdscaler/ctl/workqueue.h"

namespace pdscaler::ctl {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeClock;
using testing::FakeKube;

using testing::eventually;

// Advances the clock and waits until `loops` loops have blocked on it again, so that whatever the
// new time makes due has run.
void step(FakeClock& c, std::chrono::milliseconds d, int loops = 1) {
  const int n = c.blocked();
  c.advance(d);
  ASSERT_TRUE(c.blocked_after(n, loops)) << "no loop blocked on the clock again after advancing it";
}

bool ready(std::future<std::optional<std::string>>& f) { return f.wait_for(0s) == std::future_status::ready; }

TEST(FakeClockQueue, ADelayedKeyComesDueWhenTheClockGetsThereNotBefore) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("k", 30s);
  const int n = clock.blocked();
  auto got = std::async(std::launch::async, [&] { return q.get(); });
  ASSERT_TRUE(clock.blocked_after(n));
  step(clock, 29'999ms);
  EXPECT_FALSE(ready(got)) << "due at 30 s, handed out at 29.999 s";
  clock.advance(1ms);
  ASSERT_TRUE(eventually([&] { return ready(got); }));
  EXPECT_EQ(got.get(), "k");
  q.shutdown();
}

TEST(FakeClockQueue, BackoffDoublesPerFailureUpToItsCapAndForgetResetsIt) {
  FakeClock clock;
  WorkQueue q(clock);
  // Each failure's delay, measured on the clock: 100, 200, 400 ms, then the cap (500 ms).
  for (auto want : {100ms, 200ms, 400ms, 500ms, 500ms}) {
    q.add_rate_limited("k", 500ms);
    const int n = clock.blocked();
    auto got = std::async(std::launch::async, [&] { return q.get(); });
    ASSERT_TRUE(clock.blocked_after(n));
    step(clock, want - 1ms);
    EXPECT_FALSE(ready(got)) << "the backoff for this failure is " << want.count() << " ms";
    clock.advance(1ms);
    ASSERT_TRUE(eventually([&] { return ready(got); })) << want.count() << " ms";
    q.done(*got.get());
  }
  q.forget("k");
  q.add_rate_limited("k", 500ms);
  auto got = std::async(std::launch::async, [&] { return q.get(); });
  clock.advance(100ms);
  ASSERT_TRUE(eventually([&] { return ready(got); })) << "forget() starts the backoff again at 100 ms";
  q.shutdown();
}

struct Elector {
  Elector(FakeKube& k, FakeClock& c, const std::string& id)
      : e(k, LeaderConfig{"pdscaler-system", "pdscaler-operator", id}, [this](bool v) { changes.push_back(v); }, c) {}
  ~Elector() { stop(); }
  void start() { t = std::thread([this] { e.run(); }); }
  void stop() {
    e.stop();
    if (t.joinable()) t.join();
  }
  LeaderElector e;
  std::vector<bool> changes;
  std::thread t;
};

TEST(FakeClockLeader, APeerTakesOverOnlyWhenTheLeaseHasNotChangedForItsDuration) {
  FakeKube kube;
  FakeClock clock;
  Elector a(kube, clock, "a"), b(kube, clock, "b");
  a.start();
  ASSERT_TRUE(eventually([&] { return a.e.is_leader(); }));
  a.stop();  // dies without handing the lease back
  const int n = clock.blocked();
  b.start();
  ASSERT_TRUE(clock.blocked_after(n)) << "b's first try";
  // b first saw a's record at t = 0 of its clock: expired once more than 15 s have passed.
  for (int s = 2; s <= 14; s += 2) {
    step(clock, 2s);
    ASSERT_FALSE(b.e.is_leader()) << "taken over after " << s << " s, within the 15 s lease";
  }
  step(clock, 2s);
  EXPECT_TRUE(b.e.is_leader()) << "not taken over after 16 s";
  const auto lease = kube.lease("pdscaler-system/pdscaler-operator");
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->holder, "b");
  EXPECT_EQ(lease->transitions, 1);
}

TEST(FakeClockLeader, ARenewingLeaderKeepsThePeerOut) {
  FakeKube kube;
  FakeClock clock;
  Elector a(kube, clock, "a"), b(kube, clock, "b");
  a.start();
  ASSERT_TRUE(eventually([&] { return a.e.is_leader(); }));
  ASSERT_TRUE(clock.blocked_after(0)) << "a sleeping after its first try";
  const int n = clock.blocked();
  b.start();
  ASSERT_TRUE(clock.blocked_after(n)) << "b sleeping after its first try";
  for (int s = 2; s <= 60; s += 2) {
    step(clock, 2s, 2);
    ASSERT_TRUE(a.e.is_leader()) << s << " s";
    ASSERT_FALSE(b.e.is_leader()) << s << " s";
  }
  EXPECT_EQ(kube.lease("pdscaler-system/pdscaler-operator")->holder, "a");
}

TEST(FakeClockLeader, ALeaderThatCannotRenewStepsDownAfterTheRenewDeadline) {
  FakeKube kube;
  FakeClock clock;
  Elector a(kube, clock, "a");
  a.start();
  ASSERT_TRUE(eventually([&] { return a.e.is_leader(); }));
  ASSERT_TRUE(clock.blocked_after(0));
  kube.fail("get_lease", true);
  for (int s = 2; s <= 10; s += 2) {
    step(clock, 2s);
    ASSERT_TRUE(a.e.is_leader()) << "stepped down after " << s << " s, within the 10 s renew deadline";
  }
  step(clock, 2s);
  EXPECT_FALSE(a.e.is_leader()) << "still leader 12 s after the last renewal";
  EXPECT_EQ(a.changes, (std::vector<bool>{true, false}));
  kube.fail("get_lease", false);
  step(clock, 2s);
  EXPECT_TRUE(a.e.is_leader()) << "its own lease, renewed again once the API answers";
}

TEST(FakeClockInformer, ListFailuresAreRetriedWithADoublingBackoff) {
  FakeKube kube;
  FakeClock clock;
  kube.put(FakeKube::kDeployments, {{"metadata", {{"namespace", "llm"}, {"name", "p"}}}, {"spec", json::object()}});
  kube.fail("list", true);
  std::atomic<int> errors{0};
  Informer inf(kube, FakeKube::kDeployments, [](const std::string&, const json*) {},
               [&](const kube::ApiError&) { ++errors; }, {}, clock);
  // The backoff's deadline is taken when the informer starts to sleep, which is after it reports
  // the error: each advance waits for that sleep, or it would move the clock under a loop that
  // then sleeps from the new time.
  int sleeps = clock.blocked();
  std::thread t([&] { inf.run(); });
  ASSERT_TRUE(eventually([&] { return errors == 1; }));
  for (auto backoff : {200ms, 400ms, 800ms}) {
    ASSERT_TRUE(clock.blocked_after(sleeps)) << "no backoff sleep after error " << errors;
    sleeps = clock.blocked();
    const int before = errors;
    clock.advance(backoff - 1ms);  // the informer sleeps on: nothing to wait for but a little real time
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(errors, before) << "retried before its " << backoff.count() << " ms backoff";
    clock.advance(1ms);
    ASSERT_TRUE(eventually([&] { return errors == before + 1; })) << backoff.count() << " ms";
  }
  ASSERT_TRUE(clock.blocked_after(sleeps));
  kube.fail("list", false);
  clock.advance(1600ms);
  ASSERT_TRUE(eventually([&] { return inf.synced(); }));
  EXPECT_TRUE(inf.get("llm/p"));
  inf.stop();
  kube.cancel_watches();
  t.join();
}

TEST(FakeClockController, AKindItDoesNotWatchIsReadAgainAtEachResyncOfTheClock) {
  FakeKube kube;
  FakeClock clock;
  SelfMetrics metrics{""};
  auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  for (const char* name : {"p", "d"})
    kube.put(FakeKube::kStatefulSets,
             {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"},
              {"metadata", {{"namespace", "llm"}, {"name", name}}},
              {"spec", {{"replicas", 1}, {"selector", {{"matchLabels", {{"app", name}}}}}}},
              {"status", {{"replicas", 1}, {"readyReplicas", 1}}}});
  json pdd = json::parse(R"({"apiVersion": "pdscaler.io/v1alpha1", "kind": "PDDeployment",
    "metadata": {"namespace": "llm", "name": "sts"},
    "spec": {"slo": {"ttft": "2s", "tpot": "20ms"},
      "workload": {"tokensPerMinute": 5000000, "inputLength": 6144, "outputLength": 512},
      "prefill": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "p"},
        "throughputByInputLength": [{"inputLength": 6144, "maxThroughput": 28300}], "overhead": "100ms"},
      "decode": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "d"},
        "tpotByBatchSize": [{"batchSize": 1, "tpot": "9ms"}, {"batchSize": 34, "tpot": "20ms"}, {"batchSize": 64, "tpot": "31ms"}]}}})");
  kube.put(FakeKube::kPdds, pdd);
  ControllerOptions opts;
  opts.resync = 30s;
  opts.workers = 1;
  opts.clock = &clock;
  Controller c(kube, metrics, opts, log);
  c.set_leader(true);
  c.start();
  ASSERT_TRUE(eventually([&] { return kube.object(FakeKube::kStatefulSets, "llm/p")->at("spec").value("replicas", 0) == 4; }));
  // Settled: the status written and its own watch event reconciled.
  int settled = -1;
  ASSERT_TRUE(eventually([&] {
    const int now = kube.calls("get_scale");
    std::this_thread::sleep_for(50ms);
    if (now != kube.calls("get_scale")) return false;
    settled = now;
    return true;
  }));
  clock.advance(29'999ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(kube.calls("get_scale"), settled) << "read again before the 30 s resync";
  clock.advance(1ms);
  ASSERT_TRUE(eventually([&] { return kube.calls("get_scale") == settled + 2; }))
      << kube.calls("get_scale") << " reads of /scale, want " << settled + 2;
  clock.advance(30s);
  ASSERT_TRUE(eventually([&] { return kube.calls("get_scale") == settled + 4; }));
  c.stop();
}

}  // namespace
}  // namespace pdscaler::ctl
