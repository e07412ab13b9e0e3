#pragma once
// Polls a condition in real time until it holds or a limit passes (the controller's threads run
// on their own; a test waits for what they do, not for a fixed sleep).
#include <chrono>
#include <thread>

namespace pdscaler::testing {

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

}  // namespace pdscaler::testing
