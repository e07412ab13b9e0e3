#include "pdscaler/planner/queueing.h"

#include <cmath>
#include <limits>

namespace pdscaler::planner {

ServiceMoments moments_for(QueueModel model, double mean_s, double observed_second_moment) {
  switch (model) {
    case QueueModel::MM1:
      return {mean_s, 2 * mean_s * mean_s};
    case QueueModel::MD1:
      return {mean_s, mean_s * mean_s};
    case QueueModel::MG1:
      return {mean_s, observed_second_moment};
  }
  return {mean_s, 2 * mean_s * mean_s};
}

double tail_factor(double percentile) {
  if (percentile <= 0) return 1.0;
  return std::log(1.0 / (1.0 - percentile / 100.0));
}

double mean_sojourn(const ServiceMoments& s, double lambda) {
  const double rho = lambda * s.mean_s;
  if (rho >= 1) return std::numeric_limits<double>::infinity();
  return s.mean_s + lambda * s.second_moment / (2 * (1 - rho));
}

double max_arrival_rate(const ServiceMoments& s, double budget_s, double factor) {
  const double target = budget_s / factor;
  const double slack = target - s.mean_s;
  if (!(slack > 0)) return 0;
  // Solving E[S] + l E[S^2] / (2 (1 - l E[S])) = target for l.
  return slack / (s.second_moment / 2 + slack * s.mean_s);
}

}  // namespace pdscaler::planner
