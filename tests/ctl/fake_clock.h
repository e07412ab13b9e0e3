#pragma once
// A clock for tests whose time moves only when the test calls advance(). Waits on it end when a
// notify comes or when an advance() reaches their deadline, so a loop that sleeps 15 s of its time
// is tested in milliseconds of ours.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "pdscaler/ctl/clock.h"

namespace pdscaler::testing {

class FakeClock final : public ctl::TimeSource {
 public:
  Steady::time_point now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  Wall::time_point wall() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return wall0_ + std::chrono::duration_cast<Wall::duration>(now_ - steady0_);
  }

  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  Steady::time_point deadline) override {
    // Registered before the time is read: an advance() after the registration notifies us under
    // our mutex, which we hold until cv.wait releases it, so no wake-up is lost.
    const Waiter me{&cv, lock.mutex()};
    {
      std::lock_guard<std::mutex> g(mu_);
      waiters_.push_back(me);
      ++waits_;
    }
    if (now() < deadline) cv.wait(lock);
    std::lock_guard<std::mutex> g(mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), me));
  }

  bool sleep_until(Steady::time_point deadline, const std::atomic<bool>& stop) override {
    {
      std::lock_guard<std::mutex> g(mu_);
      ++sleeps_;
    }
    std::unique_lock<std::mutex> lock(sleep_mu_);
    // Short real waits so that a stop flag, which nobody notifies, is seen too.
    while (!stop && now() < deadline) sleep_cv_.wait_for(lock, std::chrono::milliseconds(1));
    return !stop;
  }

  void advance(std::chrono::milliseconds d) {
    std::vector<Waiter> wake;
    {
      std::lock_guard<std::mutex> g(mu_);
      now_ += d;
      wake = waiters_;
    }
    for (const Waiter& w : wake) {
      std::lock_guard<std::mutex> g(*w.mu);
      w.cv->notify_all();
    }
    sleep_cv_.notify_all();
  }

  // How many times a loop has blocked on this clock (a test waits for the next one before it
  // advances, so that the loop is known to be sleeping on the old time).
  int blocked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_ + sleeps_;
  }
  // Waits (real time, up to 5 s) until loops have blocked `k` more times than `n`.
  bool blocked_after(int n, int k = 1) const {
    for (int i = 0; i < 5000; ++i) {
      if (blocked() >= n + k) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
    bool operator==(const Waiter& o) const { return cv == o.cv && mu == o.mu; }
  };
  mutable std::mutex mu_;
  Steady::time_point steady0_{std::chrono::hours(1000)};
  Steady::time_point now_{steady0_};
  Wall::time_point wall0_{std::chrono::seconds(1'800'000'000)};
  std::vector<Waiter> waiters_;
  int waits_ = 0;
  int sleeps_ = 0;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
};

}  // namespace pdscaler::testing
