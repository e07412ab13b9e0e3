#include "pdscaler/planner/tails.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pdscaler::planner {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double total_weight(const std::vector<ServiceClass>& c) {
  double w = 0;
  for (const auto& x : c) w += x.weight;
  return w;
}

// ln E[exp(x S)] over the classes (or for exponential service of mean m), +inf where it diverges.
// A cell contributes exp(x lo) (exp(x span) - 1) / (x span).
double log_mgf(const PrefillQueue& q, double mean_s, double x) {
  if (q.exponential_service) return x * mean_s >= 1 ? kInf : -std::log(1 - x * mean_s);
  double top = -kInf, w = 0;
  for (const auto& c : q.classes) {
    top = std::max(top, x * c.hi_service());
    w += c.weight;
  }
  double sum = 0;
  for (const auto& c : q.classes) {
    const double span = c.hi_service() - c.service_s;
    const double spread = x * span > 1e-12 ? std::expm1(x * span) / (x * span) * std::exp(-x * span) : 1;
    sum += c.weight * std::exp(x * c.hi_service() - top) * spread;
  }
  return top + std::log(sum / w);
}

// Of one class, the weight that can meet `ttft_s` alone, and the weight that does, given the wait.
std::pair<double, double> class_within(const WaitTail& w, const ServiceClass& c, double ttft_s) {
  const double lo = c.service_s + c.overhead_s, hi = c.hi_service() + c.hi_overhead();
  if (lo > ttft_s * (1 + 1e-9)) return {0, 0};
  const double span = hi - lo;
  const double f = span > 0 ? std::min(1.0, (ttft_s - lo) / span) : 1;  // part of the cell that can
  if (!w.stable) return {c.weight * f, 0};
  // Late: Int_0^f p exp(-theta (T - lo - u span)) du.
  const double slack = ttft_s - lo;
  double late;
  if (w.theta * span * f > 1e-12)
    late = w.p_wait * std::exp(-w.theta * slack) * std::expm1(w.theta * span * f) / (w.theta * span);
  else
    late = w.p_wait * std::exp(-w.theta * std::max(0.0, slack)) * f;
  return {c.weight * f, c.weight * std::max(0.0, f - late)};
}

// Q(a, x) = Gamma(a, x) / Gamma(a), the upper regularised incomplete gamma function: a series
// below a + 1, a continued fraction (modified Lentz) above, and the Wilson-Hilferty normal
// approximation for large shapes where both converge slowly and it is accurate.
double upper_gamma_q(double a, double x) {
  if (x <= 0) return 1;
  if (a > 50) {
    const double z = (std::cbrt(x / a) - (1 - 1 / (9 * a))) / std::sqrt(1 / (9 * a));
    return 0.5 * std::erfc(z / std::sqrt(2.0));
  }
  const double log_pre = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1) {
    double term = 1 / a, sum = term;
    for (int n = 1; n < 10000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::abs(term) < std::abs(sum) * 1e-15) break;
    }
    return std::clamp(1 - std::exp(log_pre) * sum, 0.0, 1.0);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1) < 1e-15) break;
  }
  return std::clamp(std::exp(log_pre) * h, 0.0, 1.0);
}

// The averaging factor phi(d) of a request decoding for `d` seconds among durations `dur`
// (weights normalised), for the M/G/infinity occupancy's autocorrelation.
double averaging_factor(double d, const std::vector<std::pair<double, double>>& dur, double mean_d) {
  if (d <= 0 || mean_d <= 0) return 1;
  double sum = 0;
  for (const auto& [w, dj] : dur) {
    const double a = std::min(d, dj);
    sum += w * (d * dj * a - (d + dj) * a * a / 2 + a * a * a / 3);
  }
  return std::clamp(2 * sum / (d * d * mean_d), 0.0, 1.0);
}

}  // namespace

double erlang_c(int servers, double a) {
  if (servers <= 0) return 1;
  if (a >= servers) return 1;
  double b = 1;  // Erlang B by its recursion, stable for any number of servers
  for (int k = 1; k <= servers; ++k) b = a * b / (k + a * b);
  const double rho = a / servers;
  return b / (1 - rho * (1 - b));
}

WaitTail wait_tail(const PrefillQueue& q) {
  WaitTail w;
  w.exponential_service = q.exponential_service;
  const double total = total_weight(q.classes);
  if (total <= 0 || q.servers <= 0) return w;
  double m1 = 0, m2 = 0;
  for (const auto& c : q.classes) {
    const double a = c.service_s, b = c.hi_service();
    m1 += c.weight * (a + b) / 2;
    m2 += c.weight * (a * a + a * b + b * b) / 3;
  }
  m1 /= total;
  m2 /= total;
  w.mean_service_s = m1;
  w.service_scv = q.exponential_service ? 1 : std::max(0.0, m2 / (m1 * m1) - 1);
  const double c = q.servers;
  const double a = q.lambda * m1;
  w.utilisation = a / c;
  if (q.lambda <= 0) {
    w.stable = true;
    return w;
  }
  if (!(m1 > 0) || w.utilisation >= 1) return w;
  w.stable = true;
  const double ca2 = std::max(1e-6, q.arrival_scv);
  // Bursty arrivals (squared CV > 1) come in clusters of about that many requests, which c
  // servers take side by side: with equal service times the cluster holds its servers together,
  // so c servers queue like c / m servers fed by Poisson clusters (the same utilisation; exact for
  // gamma-renewal arrivals whose cluster fits the servers). Unequal service times free a
  // cluster's servers one by one, so m shrinks towards 1 as the service varies (m = 1 +
  // (c_a^2 - 1) / (1 + c_s^2)); the burstiness the servers do not absorb stays in the arrivals.
  double servers = c, burst = ca2;
  if (ca2 > 1) {
    const double m = 1 + (ca2 - 1) / (1 + w.service_scv);
    servers = std::max(1.0, c / m);
    burst = std::max(1.0, ca2 * servers / c);
  }
  const double lambda_eq = q.lambda * servers / c;
  auto erlang = [&](double k) {
    // Erlang C between whole numbers of servers, interpolated.
    const int lo = static_cast<int>(std::floor(k)), hi = static_cast<int>(std::ceil(k));
    const double cl = erlang_c(lo, w.utilisation * lo), ch = erlang_c(hi, w.utilisation * hi);
    return hi == lo ? cl : cl + (ch - cl) * (k - lo);
  };
  const double mmc_wait = erlang(servers) / (servers / m1 - lambda_eq);
  w.mean_wait_s = mmc_wait * (burst + w.service_scv) / 2;

  // The decay rate: the positive root of f(theta) = ln M_S(theta / c) - k ln(1 + theta / (k lambda)).
  const double k = 1 / ca2;
  auto f = [&](double th) { return log_mgf(q, m1, th / c) - k * std::log1p(th / (k * q.lambda)); };
  // f is convex with f(0) = 0 and f'(0) < 0: bracket the root, then the Illinois variant of
  // regula falsi (superlinear, and never leaves the bracket).
  double hi = std::max(1e-9, c / m1 - q.lambda), f_hi = f(hi);
  for (int i = 0; i < 200 && !(f_hi > 0); ++i) f_hi = f(hi *= 2);
  double lo = hi / 2, f_lo = f(lo);
  while (f_lo > 0 && lo > 1e-12 * hi) {
    hi = lo;
    f_hi = f_lo;
    f_lo = f(lo /= 2);
  }
  if (f_lo > 0) {  // the root lies below any bracket we can resolve
    lo = 0;
    f_lo = 0;
  }
  int side = 0;
  double root = hi;
  for (int i = 0; i < 100 && hi - lo > 1e-9 * hi; ++i) {
    root = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
    if (!(root > lo && root < hi)) root = 0.5 * (lo + hi);
    const double fr = f(root);
    if (fr > 0) {
      hi = root;
      f_hi = fr;
      if (side == 1) f_lo /= 2;
      side = 1;
    } else {
      lo = root;
      f_lo = fr;
      if (side == -1) f_hi /= 2;
      side = -1;
    }
    if (std::abs(fr) < 1e-13) break;
  }
  w.theta = root;
  w.p_wait = std::clamp(w.theta * w.mean_wait_s, 0.0, 1.0);
  return w;
}

double wait_exceeds(const WaitTail& w, double t_s) {
  if (!w.stable) return 1;
  if (t_s < 0) return 1;
  return w.p_wait * std::exp(-w.theta * t_s);
}

double ttft_feasible_share(const std::vector<ServiceClass>& classes, double ttft_s) {
  double all = 0, ok = 0;
  WaitTail idle;
  idle.stable = true;
  for (const auto& c : classes) {
    all += c.weight;
    ok += class_within(idle, c, ttft_s).first;
  }
  return all > 0 ? ok / all : 0;
}

double ttft_attainment(const WaitTail& w, const std::vector<ServiceClass>& classes, double ttft_s) {
  double feasible = 0, met = 0;
  for (const auto& c : classes) {
    const double slack = ttft_s - c.overhead_s;
    if (w.exponential_service) {
      // Random service: every request with any slack can make it; the sojourn W + S, with S
      // exponential of rate mu and W as modelled, is convolved in closed form.
      if (slack <= 0) continue;
      feasible += c.weight;
      if (!w.stable) continue;
      const double mu = 1 / w.mean_service_s, th = w.theta, p = w.p_wait;
      double tail = (1 - p) * std::exp(-mu * slack);
      if (p > 0) {
        if (std::abs(th - mu) < 1e-9 * mu) tail += p * (1 + mu * slack) * std::exp(-mu * slack);
        else tail += p * (th * std::exp(-mu * slack) - mu * std::exp(-th * slack)) / (th - mu);
      }
      met += c.weight * (1 - std::clamp(tail, 0.0, 1.0));
      continue;
    }
    const auto [can, does] = class_within(w, c, ttft_s);
    feasible += can;
    met += does;
  }
  return feasible > 0 ? met / feasible : 1;
}

double ttft_share_within(const WaitTail& w, const std::vector<ServiceClass>& classes, double t_s) {
  if (!w.stable) return 0;
  double total = 0, ok = 0;
  for (const auto& c : classes) {
    total += c.weight;
    if (w.exponential_service) {
      // As in ttft_attainment: the sojourn of exponential service, convolved; a class with no
      // slack left after its overhead is late (ttft_attainment leaves it out instead).
      if (t_s > c.overhead_s) ok += c.weight * ttft_attainment(w, {{1, c.service_s, c.overhead_s}}, t_s);
    } else {
      ok += class_within(w, c, t_s).second;
    }
  }
  return total > 0 ? ok / total : 1;
}

double ttft_quantile(const WaitTail& w, const std::vector<ServiceClass>& classes, double share) {
  if (!w.stable) return kInf;
  double longest = 0;
  for (const auto& c : classes) longest = std::max(longest, c.hi_service() + c.hi_overhead());
  auto within = [&](double t) { return ttft_share_within(w, classes, t); };
  double hi = longest + (w.theta > 0 ? 60 / w.theta : 1) + 60 * w.mean_service_s;
  if (within(hi) < share) return kInf;
  double lo = 0;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (within(mid) >= share) hi = mid;
    else lo = mid;
  }
  return hi;
}

double gamma_exceeds(double mean, double variance, double x) {
  if (variance <= 1e-12 * std::max(1.0, mean * mean)) return x < mean ? 1 : 0;
  if (mean <= 0) return 0;
  const double shape = mean * mean / variance, scale = variance / mean;
  return upper_gamma_q(shape, x / scale);
}

DecodeState decode_state(const DecodeFleet& f) {
  DecodeState s;
  const Profile& tpot = *f.tpot_by_batch;
  double total = 0, steps = 0;
  for (const auto& c : f.classes) {
    total += c.weight;
    steps += c.weight * std::max(0.0, c.tokens - 1);
  }
  if (total <= 0 || f.instances <= 0) return s;
  steps /= total;
  const double d = f.instances;
  // kappa = E[min(D1, D2)] / E[D] over decode durations (steps times tau; tau cancels).
  double min_pairs = 0;
  for (const auto& a : f.classes)
    for (const auto& b : f.classes)
      min_pairs += a.weight / total * b.weight / total * std::min(std::max(0.0, a.tokens - 1), std::max(0.0, b.tokens - 1));
  const double kappa = steps > 0 ? min_pairs / steps : 1;
  const double excess = (f.arrival_scv - 1) * kappa;
  // A least-work router balances the tokens left, not the requests: with mixed lengths an
  // instance holding a long request gets fewer others. The imbalance grows with the spread of the
  // tokens left (the equilibrium residual R of output lengths), beyond that of fixed lengths
  // (uniform residuals, CV^2 1/3, which the router spreads evenly).
  double l1 = 0, l2 = 0, l3 = 0;
  for (const auto& a : f.classes) {
    const double n = std::max(0.0, a.tokens - 1), w = a.weight / total;
    l1 += w * n;
    l2 += w * n * n;
    l3 += w * n * n * n;
  }
  const double r1 = l1 > 0 ? l2 / (2 * l1) : 0, r2 = l1 > 0 ? l3 / (3 * l1) : 0;
  const double residual_scv = r1 > 0 ? r2 / (r1 * r1) - 1 : 0;
  const double imbalance = f.routing == Routing::LeastLoaded ? std::max(0.0, residual_scv - 1.0 / 3) : 0;
  // Variance of one instance's batch for m requests in decode over the fleet; `spread` is the
  // slow-down factor 1 / (1 - e) (below).
  auto variance = [&](double m, double spread) {
    if (f.routing == Routing::LeastLoaded)
      return m * std::max(0.0, 1 + excess) * spread / (d * d) + m / d * imbalance * (1 - 1 / d);
    return m / d * (1 + excess / d) * spread;
  };
  // The batch a request sees over its life: the others (arrivals see the time average), itself,
  // and the requests of the same burst; a least-work router spreads itself and its burst over the
  // instances, a random one keeps itself where it is.
  auto seen = [&](double m, double) {
    const double mates = std::max(0.0, excess);
    // With mixed lengths the instances' batches differ, and a request is more likely to be in a
    // fuller one (size-biased by the imbalance).
    if (f.routing == Routing::LeastLoaded) return (m + 1 + mates) / d + imbalance * (1 - 1 / d);
    return m / d + 1 + mates / d;
  };
  double tau = tpot.at(1).value, spread = 1;
  double m = 0;
  for (int i = 0; i < 500; ++i) {
    m = f.lambda * steps * tau;
    const double b = std::max(1.0, seen(m, spread));
    if (b > f.max_batch + 1e-9) return s;  // more in decode than the instances can batch
    const double next = tpot.at(b).value;
    // Steps slow down as the batch grows, so a fuller batch drains slower: the occupancy
    // fluctuates more than an infinite-server queue's, by 1 / (1 - e) with e the step time's
    // elasticity to the batch (the linearised birth-death process), and for longer.
    const double h = std::max(0.5, 0.05 * b);
    const double lo = std::max(1.0, b - h), hi = std::min(tpot.max_x(), b + h);
    const double slope = hi > lo ? (tpot.at(hi).value - tpot.at(lo).value) / (hi - lo) : 0;
    s.elasticity = std::clamp(b * slope / next, 0.0, 0.9);
    spread = 1 / (1 - s.elasticity);
    if (std::abs(next - tau) <= 1e-12 * tau && i > 0) {
      tau = next;
      break;
    }
    tau = next;
  }
  m = f.lambda * steps * tau;
  s.stable = true;
  s.step_s = tau;
  s.in_decode = m;
  s.batch = std::max(1.0, seen(m, spread));
  s.batch_variance = variance(m, spread);
  return s;
}

double tpot_attainment(const DecodeFleet& f, const DecodeState& s, double tpot_s) {
  const Profile& tpot = *f.tpot_by_batch;
  if (!s.stable) return 0;
  if (tpot.largest_x_within(tpot_s, /*integral=*/false) < 0) return 0;
  double total = 0, mean_d = 0;
  std::vector<std::pair<double, double>> durations;
  for (const auto& c : f.classes) total += c.weight;
  // The occupancy stays correlated for the others' durations, stretched by the slow-down.
  const double stretch = 1 / (1 - s.elasticity);
  for (const auto& c : f.classes) {
    const double d = std::max(0.0, c.tokens - 1) * s.step_s;
    durations.emplace_back(c.weight / total, d * stretch);
    mean_d += c.weight / total * d * stretch;
  }
  double met = 0;
  for (size_t i = 0; i < f.classes.size(); ++i) {
    const auto& c = f.classes[i];
    if (c.tokens <= 1) {
      met += c.weight;
      continue;
    }
    const double steps = std::max(1.0, c.tokens - 1);
    const double phi = averaging_factor(steps * s.step_s, durations, mean_d);
    // A request joins the running batch at its next step boundary: up to one step more, spread
    // over its steps (it matters for short outputs). Averaged over where it lands in the step.
    auto late = [&](double u) {
      const double b = tpot.largest_x_within(tpot_s - u * s.step_s / steps, /*integral=*/false);
      return b < 0 ? 1.0 : gamma_exceeds(s.batch, phi * s.batch_variance, std::min(b, f.max_batch));
    };
    // Long outputs spread the join over many steps: the middle of the step stands for all.
    const double miss = steps > 50 ? late(0.5) : (late(0.125) + late(0.375) + late(0.625) + late(0.875)) / 4;
    met += c.weight * (1 - miss);
  }
  return met / total;
}

}  // namespace pdscaler::planner
