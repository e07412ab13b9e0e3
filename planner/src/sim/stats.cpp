#include "pdscaler/sim/stats.h"

#include <algorithm>
#include <cmath>

namespace pdscaler::sim {
namespace {

// Values from 2^-20 s (about a microsecond) to 2^20 s: each power of two split into 1024 equal
// sub-buckets of its mantissa, so a bucket is at most 0.2% wide and its midpoint within 0.1% of
// any value in it. The bucket comes from the float's exponent and mantissa: no logarithm.
constexpr int kLowExp = -20, kHighExp = 20, kSub = 1024;
constexpr size_t kBuckets = static_cast<size_t>((kHighExp - kLowExp) * kSub) + 2;
const double kLow = std::ldexp(0.5, kLowExp + 1);

size_t bucket_of(double v) {
  int e = 0;
  const double m = std::frexp(v, &e);  // v = m 2^e, m in [0.5, 1)
  if (e <= kLowExp) return 0;
  if (e > kHighExp) return kBuckets - 1;
  return 1 + static_cast<size_t>(e - kLowExp - 1) * kSub + static_cast<size_t>((m - 0.5) * 2 * kSub);
}

// The midpoint of a bucket.
double value_of(size_t k) {
  const size_t i = k - 1;
  const int e = static_cast<int>(i / kSub) + kLowExp + 1;
  const double m = 0.5 + (static_cast<double>(i % kSub) + 0.5) / (2 * kSub);
  return std::ldexp(m, e);
}

}  // namespace

LogHistogram::LogHistogram() : bins_(kBuckets, 0) {}

void LogHistogram::add(double v) {
  ++n_;
  sum_ += v;
  if (!(v > kLow)) {
    ++bins_[0];
    return;
  }
  ++bins_[bucket_of(v)];
}

double LogHistogram::quantile(double p) const {
  if (n_ == 0) return 0;
  // The same rank as the nearest-rank percentile over sorted values.
  const uint64_t rank = std::min<uint64_t>(n_ - 1, static_cast<uint64_t>(p * static_cast<double>(n_ - 1) + 0.5));
  uint64_t seen = 0;
  for (size_t k = 0; k < bins_.size(); ++k) {
    seen += bins_[k];
    if (seen > rank) return k == 0 ? 0 : value_of(k);
  }
  return value_of(kBuckets - 1);
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
