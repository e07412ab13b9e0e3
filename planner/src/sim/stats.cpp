#include "pdscaler/sim/stats.h"

#include <algorithm>
#include <cmath>

namespace pdscaler::sim {
namespace {

// Buckets grow by 0.2% from 1 microsecond to 10^6 s: the geometric midpoint of a bucket is
// within 0.1% of any value in it.
constexpr double kLow = 1e-6;
constexpr double kHigh = 1e6;
constexpr double kGrowth = 1.002;
const double kLogGrowth = std::log(kGrowth);
const size_t kBuckets = static_cast<size_t>(std::ceil(std::log(kHigh / kLow) / std::log(kGrowth))) + 2;

}  // namespace

LogHistogram::LogHistogram() : bins_(kBuckets, 0) {}

void LogHistogram::add(double v) {
  ++n_;
  sum_ += v;
  if (!(v > kLow)) {
    ++bins_[0];
    return;
  }
  const double k = std::floor(std::log(v / kLow) / kLogGrowth) + 1;
  ++bins_[std::min(kBuckets - 1, static_cast<size_t>(k))];
}

double LogHistogram::quantile(double p) const {
  if (n_ == 0) return 0;
  // The same rank as the nearest-rank percentile over sorted values.
  const uint64_t rank = std::min<uint64_t>(n_ - 1, static_cast<uint64_t>(p * static_cast<double>(n_ - 1) + 0.5));
  uint64_t seen = 0;
  for (size_t k = 0; k < bins_.size(); ++k) {
    seen += bins_[k];
    if (seen > rank) {
      if (k == 0) return 0;
      return kLow * std::pow(kGrowth, static_cast<double>(k) - 0.5);
    }
  }
  return kHigh;
}

MeanCi mean_ci(const std::vector<double>& values) {
  MeanCi m;
  m.n = static_cast<int>(values.size());
  if (values.empty()) return m;
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / m.n;
  if (m.n < 2) return m;
  double ss = 0;
  for (double v : values) ss += (v - m.mean) * (v - m.mean);
  const double sd = std::sqrt(ss / (m.n - 1));
  // Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
  static const double kT[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                              2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                              2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  const int dof = m.n - 1;
  const double t = dof <= 30 ? kT[dof - 1] : 1.96;
  m.half_width = t * sd / std::sqrt(static_cast<double>(m.n));
  return m;
}

}  // namespace pdscaler::sim
