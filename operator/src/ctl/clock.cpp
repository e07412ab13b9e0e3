#include "pdscaler/ctl/clock.h"

#include <algorithm>
#include <thread>

namespace pdscaler::ctl {

namespace {

class RealTime final : public TimeSource {
 public:
  Steady::time_point now() const override { return Steady::now(); }
  Wall::time_point wall() const override { return Wall::now(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  Steady::time_point deadline) override {
    cv.wait_until(lock, deadline);
  }
  bool sleep_until(Steady::time_point deadline, const std::atomic<bool>& stop) override {
    // In slices, so that stop() is seen within 50 ms without anyone having to notify us.
    while (!stop) {
      const auto left = deadline - Steady::now();
      if (left <= Steady::duration::zero()) break;
      std::this_thread::sleep_for(std::min<Steady::duration>(left, std::chrono::milliseconds(50)));
    }
    return !stop;
  }
};

}  // namespace

TimeSource& TimeSource::real() {
  static RealTime clock;
  return clock;
}

}  // namespace pdscaler::ctl
