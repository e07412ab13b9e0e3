// The work queue under concurrent adds and gets (run under ASan to catch lifetime bugs: a deadline
// referring into a map node that another thread erased was one).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "pdscaler/ctl/workqueue.h"

namespace pdscaler::ctl {
namespace {

TEST(WorkQueue, DeduplicatesAndNeverHandsOneKeyToTwoWorkers) {
  WorkQueue q;
  q.add("a");
  q.add("a");
  q.add("b");
  auto first = q.get();
  auto second = q.get();
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  q.add(*first);  // re-added while processing: queued, but not handed out until done()
  std::atomic<bool> got{false};
  std::thread t([&] { got = q.get().has_value(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got);
  q.done(*first);
  t.join();
  EXPECT_TRUE(got);
  q.shutdown();
  EXPECT_FALSE(q.get());
}

TEST(WorkQueue, DelayedAddsComeDueAndASoonerAddWins) {
  WorkQueue q;
  const auto start = WorkQueue::Clock::now();
  q.add_after("k", std::chrono::milliseconds(300));
  q.add_after("k", std::chrono::milliseconds(20));
  auto k = q.get();
  ASSERT_TRUE(k);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(WorkQueue::Clock::now() - start);
  EXPECT_GE(waited.count(), 15);
  EXPECT_LT(waited.count(), 250);
  q.shutdown();
}

TEST(WorkQueue, ConcurrentReaddsWhileWaiting) {
  WorkQueue q;
  std::set<std::string> processed;  // worker thread only until join
  std::thread worker([&] {
    while (auto k = q.get()) {
      processed.insert(*k);
      q.done(*k);
    }
  });
  std::thread producer([&] {
    for (int i = 0; i < 2000; ++i) {
      std::string key = "k";  // appended: GCC 12 -O3 reports a false -Wrestrict on "k" + std::string
      key += std::to_string(i % 7);
      if (i % 3 == 0) q.add_after(key, std::chrono::milliseconds(2 + i % 5));
      else if (i % 3 == 1) q.add_rate_limited(key, std::chrono::milliseconds(4));
      else q.add(key);
    }
  });
  producer.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  q.shutdown();
  worker.join();
  EXPECT_EQ(processed.size(), 7u);  // every key came due and was handed out
}

}  // namespace
}  // namespace pdscaler::ctl
