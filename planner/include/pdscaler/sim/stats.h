#pragma once
// Small statistics for the simulator and its reports: a log-bucketed histogram whose quantiles are
// within 0.1% of the exact ones (so a 14-day run needs no per-request storage), and the mean with
// a 95% confidence interval over repeated runs (seeds).
//
//   LogHistogram h;  for (double v : ttfts) h.add(v);
//   h.quantile(0.99);             // within 0.1% of the exact p99
//   MeanCi m = mean_ci({0.991, 0.993, 0.990, 0.994, 0.992});  // m.mean, m.half_width

#include <cstdint>
#include <vector>

namespace pdscaler::sim {

class LogHistogram {
 public:
  LogHistogram();
  void add(double v);
  double quantile(double p) const;  // p in [0, 1]; 0 when empty
  double mean() const { return n_ ? sum_ / static_cast<double>(n_) : 0; }
  uint64_t count() const { return n_; }

 private:
  std::vector<uint64_t> bins_;  // bins_[0]: values below a microsecond (zeros included)
  uint64_t n_ = 0;
  double sum_ = 0;
};

struct MeanCi {
  double mean = 0;
  double half_width = 0;  // of the 95% interval (Student's t); 0 for one value
  int n = 0;
};
MeanCi mean_ci(const std::vector<double>& values);

}  // namespace pdscaler::sim
