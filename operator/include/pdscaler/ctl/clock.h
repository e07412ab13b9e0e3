#pragma once
// Where the controller's loops read the time and wait for it. The operator uses the real clocks
// (TimeSource::real()); tests pass a fake one whose time moves only when the test advances it, so
// backoffs, lease expiry and resync periods of seconds are tested in milliseconds.
//
//   std::unique_lock lock(mu_);
//   clock_.wait_until(cv_, lock, deadline);          // notified, or the deadline passed
//   if (!clock_.sleep_until(clock_.now() + 2s, stopped_)) return;   // false: stopped

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace pdscaler::ctl {

class TimeSource {
 public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;
  virtual ~TimeSource() = default;

  virtual Steady::time_point now() const = 0;
  virtual Wall::time_point wall() const = 0;
  // Blocks (releasing `lock`, which holds the mutex that guards cv) until cv is notified or
  // now() reaches `deadline`; may return early, as condition_variable::wait_until may.
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          Steady::time_point deadline) = 0;
  // Sleeps until now() reaches `deadline` or `stop` is set; returns !stop.
  virtual bool sleep_until(Steady::time_point deadline, const std::atomic<bool>& stop) = 0;

  bool sleep_for(std::chrono::milliseconds d, const std::atomic<bool>& stop) { return sleep_until(now() + d, stop); }

  // The process's real steady and system clocks.
  static TimeSource& real();
};

}  // namespace pdscaler::ctl
