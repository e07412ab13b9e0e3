#include "pdscaler/planner/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

namespace pdscaler::planner {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string num(double v, int precision = 6) {
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

std::string ms(double seconds) { return num(seconds * 1000, 6) + " ms"; }

std::string percentile_label(double p) {
  if (!(p > 0)) return "mean ";
  // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict on "p" + std::string + " ".
  std::string s = "p";
  s += num(p);
  s += ' ';
  return s;
}

// Rounds a replica count. Ceil tolerates floating-point dust so that an exact 4.0 stays 4.
long long round_count(double exact, Rounding r) {
  if (exact > 1e9) return static_cast<long long>(1e9);
  if (r == Rounding::Nearest) return std::llround(exact);
  return static_cast<long long>(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
}

struct PrefillService {
  ServiceMoments moments;
  double mean_length = 0;      // uncached tokens
  double max_throughput = 0;   // at the mean uncached length
};

// Service time of one prefill queue for each request class, then its first two moments.
PrefillService prefill_service(const PlanInput& in, double mean_input, Plan& out) {
  const auto& w = in.workload;
  const auto& p = in.prefill;
  const double keep = 1 - w.prefix_cache_hit_rate;
  const double dp = p.data_parallel_size;
  bool clamped = false;
  auto throughput = [&](double len) {
    Lookup l = p.max_throughput.at(len);
    clamped = clamped || l.clamped;
    return l.value;
  };

  PrefillService s;
  s.mean_length = mean_input * keep;
  s.max_throughput = throughput(s.mean_length);
  double mean = dp * s.mean_length / s.max_throughput;
  double second = mean * mean;
  bool spread_known = false;

  if (!w.input_length_distribution.empty()) {
    double total = 0, m1 = 0, m2 = 0;
    for (const auto& b : w.input_length_distribution) {
      const double len = b.length * keep;
      const double t = dp * len / throughput(len);
      total += b.weight;
      m1 += b.weight * t;
      m2 += b.weight * t * t;
    }
    mean = m1 / total;
    second = m2 / total;
    spread_known = true;
  } else if (w.input_length_stddev) {
    // Service time taken as proportional to length at the mean length's throughput.
    const double per_token = dp * keep / s.max_throughput;
    const double sd = *w.input_length_stddev;
    second = per_token * per_token * (sd * sd + mean_input * mean_input);
    spread_known = true;
  }
  if (p.queue_model == QueueModel::MG1 && !spread_known)
    out.warnings.push_back(
        "prefill.queueModel MG1 without a length spread: input lengths taken as fixed (M/D/1)");
  if (clamped)
    out.warnings.push_back("prefill throughput looked up outside the measured input lengths [" +
                           num(p.max_throughput.min_x()) + ", " + num(p.max_throughput.max_x()) +
                           "]: the nearest measured point was used");
  s.moments = moments_for(p.queue_model, mean, second);
  return s;
}

double mean_output_length(const Workload& w) {
  double total = 0, sum = 0;
  for (const auto& b : w.output_length_distribution) {
    total += b.weight;
    sum += b.weight * b.length;
  }
  return total > 0 ? sum / total : w.output_length;
}

double mean_input_length(const Workload& w) {
  if (w.input_length_distribution.empty()) return w.input_length;
  double total = 0, sum = 0;
  for (const auto& b : w.input_length_distribution) {
    total += b.weight;
    sum += b.weight * b.length;
  }
  return sum / total;
}

// Steady-state decode batch per replica: the smallest b with b = x * TPOT(b), x the output
// tokens/s each replica must produce (Little's law). Iterating from 0 climbs monotonically to it
// because TPOT never falls with batch size.
std::pair<double, double> decode_fixed_point(const DecodeRole& dec, double x) {
  double cap = dec.tpot_by_batch.max_x();
  if (dec.max_batch_size) cap = std::min(cap, static_cast<double>(*dec.max_batch_size));
  double b = 0;
  for (int i = 0; i < 500; ++i) {
    const double next = x * dec.tpot_by_batch.at(b).value;
    if (next > cap * (1 + 1e-12)) return {cap, kInf};
    if (std::abs(next - b) <= 1e-9 * std::max(1.0, next)) {
      b = next;
      break;
    }
    b = next;
  }
  return {b, dec.tpot_by_batch.at(b).value};
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (normal_cdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// The smallest n >= 1 with ok(n), for ok monotone in n (gallop, then bisect); -1 beyond 2^20.
template <typename Ok>
int least_count(Ok ok) {
  int hi = 1;
  while (!ok(hi)) {
    if (hi > (1 << 20)) return -1;
    hi *= 2;
  }
  int lo = hi / 2 + 1;
  if (hi == 1) return 1;
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

}  // namespace

std::vector<std::pair<double, double>> lognormal_bands(double mean, double stddev) {
  static const double kEdges[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1};
  static const std::vector<double> kZ = [] {
    std::vector<double> z;
    for (double p : kEdges) z.push_back(p <= 0 || p >= 1 ? 0 : normal_quantile(p));
    return z;
  }();
  std::vector<std::pair<double, double>> out;
  if (!(stddev > 0) || !(mean > 0)) {
    out.emplace_back(1.0, mean);
    return out;
  }
  const double s2 = std::log(1 + (stddev / mean) * (stddev / mean)), s = std::sqrt(s2);
  // E[X; z_a < Z < z_b] = mean (Phi(z_b - s) - Phi(z_a - s)) for X = exp(mu + s Z).
  for (size_t i = 0; i + 1 < std::size(kEdges); ++i) {
    const double pa = kEdges[i], pb = kEdges[i + 1];
    const double ca = pa <= 0 ? 0 : normal_cdf(kZ[i] - s);
    const double cb = pb >= 1 ? 1 : normal_cdf(kZ[i + 1] - s);
    out.emplace_back(pb - pa, mean * (cb - ca) / (pb - pa));
  }
  return out;
}

std::vector<LengthCell> lognormal_cells(double mean, double stddev) {
  std::vector<LengthCell> out;
  if (!(stddev > 0) || !(mean > 0)) {
    out.push_back({1, mean, mean});
    return out;
  }
  const double s2 = std::log(1 + (stddev / mean) * (stddev / mean)), s = std::sqrt(s2);
  const double mu = std::log(mean) - s2 / 2;
  // The cells' probability edges and their standard normal quantiles, computed once. The first
  // edge sits at a small quantile rather than 0; the last cell is a point near the top.
  struct Edges {
    std::vector<double> p, z;
    double z_top = 0;
  };
  static const Edges kEdges = [] {
    Edges e;
    for (int i = 0; i <= 32; ++i) e.p.push_back(0.96 * i / 32);
    for (double p : {0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 0.99999}) e.p.push_back(p);
    for (double p : e.p) e.z.push_back(normal_quantile(std::max(p, 1e-6)));
    e.z_top = normal_quantile(0.999995);
    return e;
  }();
  auto at = [&](double z) { return std::exp(mu + s * z); };
  for (size_t i = 0; i + 1 < kEdges.p.size(); ++i)
    out.push_back({kEdges.p[i + 1] - kEdges.p[i], at(kEdges.z[i]), at(kEdges.z[i + 1])});
  out.push_back({1 - kEdges.p.back(), at(kEdges.z_top), at(kEdges.z_top)});
  return out;
}

AttainmentModel::AttainmentModel(const PlanInput& in) : in_(&in) {
  const auto& w = in.workload;
  const auto& p = in.prefill;
  const double keep = 1 - w.prefix_cache_hit_rate;
  const double dp = std::max(1, p.data_parallel_size);
  auto service = [&](double len) {
    const double u = len * keep;
    return dp * u / p.max_throughput.at(std::max(1.0, u)).value;
  };
  auto overhead = [&](double len) { return p.overhead_s + p.overhead_per_input_token_s * len; };
  auto add = [&](double weight, double lo, double hi) {
    input_.push_back({weight, service(lo), overhead(lo), service(hi), overhead(hi)});
  };
  exponential_ = p.queue_model == QueueModel::MM1;
  if (p.queue_model == QueueModel::MG1 && !w.input_length_distribution.empty()) {
    for (const auto& b : w.input_length_distribution) add(b.weight, b.length, b.length);
  } else if (p.queue_model == QueueModel::MG1 && w.input_length_stddev && *w.input_length_stddev > 0) {
    for (const auto& c : lognormal_cells(mean_input_length(w), *w.input_length_stddev)) add(c.weight, c.lo, c.hi);
  } else {
    const double len = mean_input_length(w);
    add(1, len, len);
  }
  if (!w.output_length_distribution.empty()) {
    for (const auto& b : w.output_length_distribution)
      if (b.weight > 0) output_.push_back({b.weight, std::max(1.0, b.length)});
  }
  if (output_.empty()) {
    const auto out = w.output_length_stddev ? lognormal_bands(w.output_length, *w.output_length_stddev)
                                            : lognormal_bands(w.output_length, 0);
    for (const auto& [weight, tokens] : out) output_.push_back({weight, std::max(1.0, tokens)});
  }
  double total = 0, steps = 0;
  for (const auto& c : output_) {
    total += c.weight;
    steps += c.weight * std::max(0.0, c.tokens - 1);
  }
  decode_steps_ = total > 0 ? steps / total : 0;
  max_batch_ = in.decode.tpot_by_batch.max_x();
  if (in.decode.max_batch_size) max_batch_ = std::min(max_batch_, static_cast<double>(*in.decode.max_batch_size));
  const double slack = in.slo.ttft_s;
  double ttft_ok = 0, all = 0;
  for (const auto& c : input_) {
    all += c.weight;
    if (exponential_ && c.overhead_s < slack) ttft_ok += c.weight;
  }
  if (!exponential_) ttft_ok = ttft_feasible_share(input_, slack) * all;
  double single = 0, out_all = 0;
  for (const auto& c : output_) {
    out_all += c.weight;
    if (c.tokens <= 1) single += c.weight;
  }
  const bool tpot_ok = in.decode.tpot_by_batch.at(1).value <= in.slo.tpot_s * (1 + 1e-9);
  feasible_share_ = (all > 0 ? ttft_ok / all : 0) * (tpot_ok ? 1.0 : single / out_all);
}

WaitTail AttainmentModel::wait(double rps, int n) const {
  for (const auto& c : waits_)
    if (c.rps == rps && c.prefill == n) return c.w;
  const double dp = std::max(1, in_->prefill.data_parallel_size);
  const double disp = in_->workload.arrival_dispersion;
  PrefillQueue q;
  q.exponential_service = exponential_;
  q.classes = input_;
  if (in_->prefill.routing == Routing::LeastLoaded) {
    q.servers = static_cast<int>(n * dp);
    q.lambda = rps;
    q.arrival_scv = disp;
  } else {
    // Each instance gets a random share: the thinned stream is closer to Poisson.
    q.servers = static_cast<int>(dp);
    q.lambda = n > 0 ? rps / n : kInf;
    q.arrival_scv = n > 0 ? 1 + (disp - 1) / n : disp;
  }
  const WaitTail w = wait_tail(q);
  if (waits_.size() >= 16) waits_.erase(waits_.begin());
  waits_.push_back({rps, n, w});
  return w;
}

double AttainmentModel::ttft(double rps, int n) const {
  if (n <= 0) return rps > 0 ? 0 : 1;
  return ttft_attainment(wait(rps, n), input_, in_->slo.ttft_s);
}

double AttainmentModel::ttft_within(double rps, int n, double t_s) const {
  if (n <= 0) return rps > 0 ? 0 : 1;
  return ttft_share_within(wait(rps, n), input_, t_s);
}

double AttainmentModel::tpot_within(double rps, int n, int prefill, double t_s) const {
  if (n <= 0) return rps > 0 ? 0 : 1;
  const DecodeFleet f = fleet(rps, n, prefill);
  return tpot_attainment(f, decode_state(f), t_s);
}

double AttainmentModel::departure_scv(double rps, int prefill) const {
  const double ca2 = in_->workload.arrival_dispersion;
  if (prefill <= 0) return ca2;
  const WaitTail w = wait(rps, prefill);
  if (!w.stable) return 1;  // overloaded prefill leaves at its service rate, roughly Poisson
  const double rho = std::min(1.0, w.utilisation);
  const double servers = in_->prefill.routing == Routing::LeastLoaded
                             ? prefill * std::max(1, in_->prefill.data_parallel_size)
                             : std::max(1, in_->prefill.data_parallel_size);
  const double arriving = in_->prefill.routing == Routing::LeastLoaded ? ca2 : 1 + (ca2 - 1) / prefill;
  const double interval_scv =
      std::max(0.05, 1 + (1 - rho * rho) * (arriving - 1) + rho * rho * (w.service_scv - 1) / std::sqrt(servers));
  // That is the gaps' dispersion, what decode sees over short windows. Decode's occupancy counts
  // the requests that left prefill over a request's decode time, and over windows much longer
  // than the prefill queue's relaxation time the queue can hold back nothing: the counts are as
  // dispersed as the arrivals'. Between, weighted by the decode time T against the relaxation
  // time r: c^2 = interval + (arrivals - interval) T / (T + r), with r = 4 / (theta (1 - rho))
  // (theta the waiting time's decay rate; for M/M/1 this is the heavy-traffic relaxation time
  // 4 / (mu (1 - rho)^2)) and T the mean decode steps at the TPOT target.
  // The decode time at the TPOT target is its longest; where the arrivals are the smoother (a
  // variable service makes the gaps burstier than the arrivals) the shortest, at batch 1, so the
  // weight never errs towards the smoother of the two.
  const double step_s = ca2 >= interval_scv ? in_->slo.tpot_s : in_->decode.tpot_by_batch.at(1).value;
  const double decode_s = decode_steps_ * step_s;
  if (!(w.theta > 0) || rho >= 1 || decode_s <= 0) return interval_scv;
  const double relax_s = 4 / (w.theta * (1 - rho));
  return std::max(0.05, interval_scv + (ca2 - interval_scv) * decode_s / (decode_s + relax_s));
}

DecodeFleet AttainmentModel::fleet(double rps, int n, int prefill) const {
  DecodeFleet f;
  f.instances = n;
  f.lambda = rps;
  f.arrival_scv = departure_scv(rps, prefill);
  f.routing = in_->decode.routing;
  f.tpot_by_batch = &in_->decode.tpot_by_batch;
  f.max_batch = max_batch_;
  f.classes = output_;
  return f;
}

DecodeState AttainmentModel::decode(double rps, int n, int prefill) const { return decode_state(fleet(rps, n, prefill)); }

double AttainmentModel::tpot(double rps, int n, int prefill) const { return tpot_within(rps, n, prefill, in_->slo.tpot_s); }

namespace {

// The largest rate in [0, hi] with share(rate) >= target, for share falling with the rate, to
// a relative precision of 1e-6 (a known passing rate `known` narrows the search).
template <typename Share>
double max_rate(Share share, double hi, double target, double known = 0, double precision = 1e-6) {
  double lo = known;
  if (lo <= 0) {
    if (share(hi * 1e-9) < target) return 0;
  } else if (share(hi) >= target) {
    return hi;
  }
  for (int i = 0; i < 80 && hi - lo > precision * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (share(mid) >= target) lo = mid;
    else hi = mid;
  }
  return lo;
}

}  // namespace

double AttainmentModel::max_rate_ttft(int n, double share, double known) const {
  double mean_s = 0, total = 0;
  for (const auto& c : input_) {
    mean_s += c.weight * c.service_s;
    total += c.weight;
  }
  const double servers = n * std::max(1, in_->prefill.data_parallel_size);
  return max_rate([&](double r) { return ttft(r, n); }, servers * total / std::max(1e-12, mean_s), share, known);
}

double AttainmentModel::max_rate_tpot(int n, double share, int prefill, double known) const {
  double steps = 0, total = 0;
  for (const auto& c : output_) {
    steps += c.weight * std::max(0.0, c.tokens - 1);
    total += c.weight;
  }
  steps = std::max(1e-9, steps / total);
  // Beyond this rate even full batches at the fastest step cannot keep up.
  const double hi = n * max_batch_ / (steps * in_->decode.tpot_by_batch.at(1).value);
  return max_rate([&](double r) { return tpot(r, n, prefill); }, hi, share, known);
}

const char* constraint_field(Constraint c) {
  switch (c) {
    case Constraint::None: return "";
    case Constraint::PrefillMinReplicas: return "prefill.minReplicas";
    case Constraint::PrefillMaxReplicas: return "prefill.maxReplicas";
    case Constraint::DecodeMinReplicas: return "decode.minReplicas";
    case Constraint::DecodeMaxReplicas: return "decode.maxReplicas";
    case Constraint::MaxTotalGpus: return "scaling.maxTotalGpus";
  }
  return "";
}

Prediction predict(const PlanInput& in, const Derivation& d, int prefill_replicas,
                   int decode_replicas) {
  Prediction out;
  const ServiceMoments m{d.service_mean_s, d.service_second_moment};
  const double dp = in.prefill.data_parallel_size;
  const double decode_rate_per_replica =
      d.decode_throughput > 0 ? d.decode_throughput / d.output_length : 0;
  out.capacity_requests_per_s = std::min(prefill_replicas * d.max_rate_per_prefill,
                                         decode_replicas * decode_rate_per_replica);

  if (prefill_replicas <= 0) {
    out.ttft_mean_s = out.ttft_at_percentile_s = d.request_rate > 0 ? kInf : 0;
  } else {
    const double per_queue = d.request_rate / prefill_replicas / dp;
    const double sojourn = mean_sojourn(m, per_queue);
    out.prefill_utilisation = utilisation(m, per_queue);
    out.ttft_mean_s = sojourn + d.overhead_s;
    out.ttft_at_percentile_s = sojourn * d.tail_factor + d.overhead_s;
  }

  if (decode_replicas <= 0) {
    out.tpot_s = d.request_rate > 0 ? kInf : 0;
  } else {
    const double x = d.request_rate * d.output_length / decode_replicas;
    auto [batch, tpot] = decode_fixed_point(in.decode, x);
    out.decode_batch = batch;
    out.tpot_s = tpot;
  }
  // Per request, from the tail model.
  const AttainmentModel model(in);
  out.ttft_attainment = model.ttft(d.request_rate, prefill_replicas);
  out.tpot_attainment = model.tpot(d.request_rate, decode_replicas, prefill_replicas);
  out.attainment = out.ttft_attainment * out.tpot_attainment;
  if (d.attainment_target > 0 && prefill_replicas > 0) {
    // With an attainment target the tail model is the model: its mean, and the TTFT the target
    // share of requests stays within.
    const WaitTail wt = model.wait(d.request_rate, prefill_replicas);
    double total = 0, service = 0, overhead = 0;
    for (const auto& c : model.input_classes()) {
      total += c.weight;
      service += c.weight * 0.5 * (c.service_s + c.hi_service());
      overhead += c.weight * 0.5 * (c.overhead_s + c.hi_overhead());
    }
    out.ttft_mean_s = wt.stable ? wt.mean_wait_s + (service + overhead) / total : kInf;
    out.ttft_at_percentile_s = ttft_quantile(wt, model.input_classes(), d.attainment_target);
    out.prefill_utilisation = wt.utilisation;
  }
  return out;
}

namespace {

// The fewest GPUs whose predicted share of feasible requests within both SLOs reaches the target:
// the least prefill that reaches it with perfect decode, the least decode likewise, then the
// staircase between them (more prefill, fewer misses at TTFT, room for more at TPOT). Sets the
// derivation's exact counts to the load over what the chosen counts carry at their shares.
bool size_for_attainment(const PlanInput& in, const AttainmentModel& m, Plan& out, int& np, int& nd) {
  Derivation& d = out.d;
  const double a = *in.slo.attainment / 100;
  const double lambda = d.request_rate;
  d.attainment_target = a;
  d.arrival_dispersion = in.workload.arrival_dispersion;
  d.feasible_share = m.feasible_share();
  if (lambda <= 0) {
    d.prefill_exact = d.decode_exact = 0;
    d.prefill_share_target = d.decode_share_target = 1;
    np = nd = 0;
    return true;
  }
  const int n_lo = least_count([&](int n) { return m.ttft(lambda, n) >= a; });
  // The least decode with perfect prefill, at the smoothest departures any candidate prefill
  // fleet gives (the least one, busiest): no staircase step needs fewer.
  const int d_lo = n_lo < 0 ? -1 : least_count([&](int k) { return m.tpot(lambda, k, n_lo) >= a; });
  if (n_lo < 0 || d_lo < 0) {
    out.reasons.push_back("slo.attainment " + num(100 * a) + "% is out of reach: no fleet of up to 2^20 " +
                          (n_lo < 0 ? "prefill" : "decode") + " replicas reaches it at this load");
    return false;
  }
  const int gp = in.prefill.gpus_per_replica, gd = in.decode.gpus_per_replica;
  int best_n = -1, best_d = -1, d_prev = -1;
  double best_share = 0;
  for (int n = n_lo;; ++n) {
    const double ap = m.ttft(lambda, n);
    auto ok = [&](int k) { return m.tpot(lambda, k, n) * ap >= a; };
    // The least decode that keeps the product at the target. Decode sees this prefill fleet's
    // departures, so it is searched for each prefill count, starting from the last one's answer.
    int hi = d_prev > 0 ? d_prev : least_count(ok);
    if (hi < 0) break;
    while (!ok(hi)) ++hi;
    while (hi > 1 && ok(hi - 1)) --hi;
    d_prev = hi;
    const double share = ap * m.tpot(lambda, hi, n);
    const long long gpus = static_cast<long long>(n) * gp + static_cast<long long>(hi) * gd;
    const long long best_gpus = static_cast<long long>(best_n) * gp + static_cast<long long>(best_d) * gd;
    if (best_n < 0 || gpus < best_gpus || (gpus == best_gpus && share > best_share)) {
      best_n = n;
      best_d = hi;
      best_share = share;
    }
    if (hi <= d_lo) break;  // decode cannot shrink further: more prefill only costs more
    if (static_cast<long long>(n + 1) * gp + static_cast<long long>(d_lo) * gd > static_cast<long long>(best_n) * gp + static_cast<long long>(best_d) * gd) break;
  }
  d.prefill_share_target = a / m.tpot(lambda, best_d, best_n);
  d.decode_share_target = a / m.ttft(lambda, best_n);
  // The chosen counts meet their shares at this load: search above it.
  d.prefill_exact = best_n * lambda / std::max(1e-12, m.max_rate_ttft(best_n, d.prefill_share_target, lambda));
  d.decode_exact = best_d * lambda / std::max(1e-12, m.max_rate_tpot(best_d, d.decode_share_target, best_n, lambda));
  d.prefill_exact = std::min(d.prefill_exact, static_cast<double>(best_n));
  d.decode_exact = std::min(d.decode_exact, static_cast<double>(best_d));
  d.ratio = d.decode_exact > 0 ? d.prefill_exact / d.decode_exact : 0;
  np = best_n;
  nd = best_d;
  return true;
}

}  // namespace

Plan plan(const PlanInput& in) {
  Plan out;
  Derivation& d = out.d;
  const auto& w = in.workload;

  d.input_length = mean_input_length(w);
  d.output_length = mean_output_length(w);
  const double per_request = d.input_length + d.output_length;
  if (w.rate_unit == RateUnit::TokensPerSecond) {
    d.total_tokens_per_s = w.rate;
    d.request_rate = w.rate / per_request;
  } else {
    d.request_rate = w.rate;
    d.total_tokens_per_s = w.rate * per_request;
  }

  // Prefill under TTFT: eqs. (8)-(13), generalised.
  const PrefillService svc = prefill_service(in, d.input_length, out);
  d.prefill_length = svc.mean_length;
  d.prefill_max_throughput = svc.max_throughput;
  d.service_mean_s = svc.moments.mean_s;
  d.service_second_moment = svc.moments.second_moment;
  d.service_rate = 1 / svc.moments.mean_s;
  d.overhead_s = in.prefill.overhead_s + in.prefill.overhead_per_input_token_s * d.input_length;
  d.queue_budget_s = in.slo.ttft_s - d.overhead_s;
  d.tail_factor = tail_factor(in.slo.ttft_percentile);
  const std::string ttft_label = percentile_label(in.slo.ttft_percentile) + "TTFT";

  if (d.queue_budget_s <= 0) {
    out.reasons.push_back("slo.ttft " + ms(in.slo.ttft_s) + " is not above the TTFT overhead " +
                          ms(d.overhead_s) + " (prefill.overhead plus per-token transfer of " +
                          num(d.input_length) + " tokens): no prefill capacity can meet it");
  } else {
    d.max_rate_per_queue = max_arrival_rate(svc.moments, d.queue_budget_s, d.tail_factor);
    if (d.max_rate_per_queue <= 0) {
      std::string target = ms(d.queue_budget_s);
      if (d.tail_factor != 1)
        target += " / ln(1/(1-p)) = " + ms(d.queue_budget_s / d.tail_factor) + " mean sojourn";
      const char* source = in.prefill.max_throughput.points().size() == 1 ? "prefill.maxThroughput"
                                                                          : "prefill.throughputByInputLength";
      out.reasons.push_back(
          ttft_label + " " + ms(in.slo.ttft_s) + " (slo.ttft) leaves " + target +
          " for prefill after overhead, which is not more than one prefill service time " +
          ms(d.service_mean_s) + " (" + num(d.prefill_length) + " tokens at " +
          num(d.prefill_max_throughput) + " tokens/s per queue of " +
          num(in.prefill.data_parallel_size) + ", from " + source +
          "): even an idle instance misses it");
    }
  }
  d.max_rate_per_prefill = d.max_rate_per_queue * in.prefill.data_parallel_size;
  d.utilisation_at_max = utilisation(svc.moments, d.max_rate_per_queue);
  d.prefill_throughput = d.max_rate_per_prefill * d.prefill_length;

  // Decode under TPOT: the largest measured batch that meets it.
  const auto& dec = in.decode;
  double batch = dec.tpot_by_batch.largest_x_within(in.slo.tpot_s, /*integral=*/true);
  if (batch < 0) {
    out.reasons.push_back("decode TPOT at the smallest measured batch (" +
                          num(dec.tpot_by_batch.min_x()) + " in decode.tpotByBatchSize) is " +
                          ms(dec.tpot_by_batch.points().front().y) + ", above slo.tpot " +
                          ms(in.slo.tpot_s) + ": no batch size meets it");
  } else {
    if (batch == dec.tpot_by_batch.max_x() && dec.tpot_by_batch.at(batch).value < in.slo.tpot_s &&
        !(dec.max_batch_size && *dec.max_batch_size < batch))
      out.warnings.push_back("decode batch capped at the largest measured batch " + num(batch) +
                             " (TPOT " + ms(dec.tpot_by_batch.at(batch).value) + " < slo.tpot " +
                             ms(in.slo.tpot_s) + "): measure larger batches to use more of it");
    if (dec.max_batch_size && *dec.max_batch_size < batch) {
      out.warnings.push_back("decode batch limited by decode.maxBatchSize " +
                             std::to_string(*dec.max_batch_size) + " (TPOT alone allows " +
                             num(batch) + ")");
      batch = *dec.max_batch_size;
    }
    d.decode_batch = batch;
    d.decode_tpot_at_batch_s = dec.tpot_by_batch.at(batch).value;
    d.decode_throughput = batch / d.decode_tpot_at_batch_s;
  }

  if (!out.reasons.empty()) return out;

  // Eqs. (5)-(7).
  d.prefill_exact = d.request_rate / d.max_rate_per_prefill;
  d.decode_exact = d.request_rate * d.output_length / d.decode_throughput;
  d.ratio = d.decode_throughput / (d.max_rate_per_prefill * d.output_length);

  auto size_role = [&](double exact, int lo, int hi, Constraint below, Constraint above) {
    // With an attainment target the counts come whole: the least that reach it.
    long long n = in.slo.attainment ? std::llround(exact) : round_count(exact, in.rounding);
    if (d.request_rate > 0 && n < 1) n = 1;  // a loaded role needs at least one replica
    if (n < lo) {
      out.limits.push_back(below);
      n = lo;
    }
    if (n > hi) {
      out.limits.push_back(above);
      n = hi;
    }
    return static_cast<int>(n);
  };
  std::optional<AttainmentModel> model;
  int need_p = -1, need_d = -1;  // with an attainment target: the least counts that reach it
  if (in.slo.attainment) {
    model.emplace(in);
    if (!size_for_attainment(in, *model, out, need_p, need_d)) return out;
  }
  int np = size_role(need_p >= 0 ? need_p : d.prefill_exact, in.prefill.min_replicas, in.prefill.max_replicas,
                     Constraint::PrefillMinReplicas, Constraint::PrefillMaxReplicas);
  int nd = size_role(need_d >= 0 ? need_d : d.decode_exact, dec.min_replicas, dec.max_replicas,
                     Constraint::DecodeMinReplicas, Constraint::DecodeMaxReplicas);

  const int gp = in.prefill.gpus_per_replica;
  const int gd = dec.gpus_per_replica;
  if (in.max_total_gpus && np * gp + nd * gd > *in.max_total_gpus) {
    const int budget = *in.max_total_gpus;
    const int floor_gpus = in.prefill.min_replicas * gp + dec.min_replicas * gd;
    if (floor_gpus > budget) {
      out.reasons.push_back("scaling.maxTotalGpus " + std::to_string(budget) +
                            " is below the GPUs the minimum replicas need (" +
                            std::to_string(in.prefill.min_replicas) + " x " + std::to_string(gp) +
                            " prefill + " + std::to_string(dec.min_replicas) + " x " +
                            std::to_string(gd) + " decode = " + std::to_string(floor_gpus) + ")");
      return out;
    }
    // The split with the most sustained goodput min(P capacity, D capacity) (with an attainment
    // target: the most requests within both SLOs at this load); no role gets more than it needs,
    // and among equals the one with fewer GPUs wins.
    const double per_d = d.decode_throughput / d.output_length;
    int best_p = in.prefill.min_replicas, best_d = dec.min_replicas;
    double best_goodput = -1;
    for (int p = in.prefill.min_replicas; p <= np && p * gp + dec.min_replicas * gd <= budget; ++p) {
      const int q = std::min(nd, (budget - p * gp) / gd);
      const double goodput = model ? model->ttft(d.request_rate, p) * model->tpot(d.request_rate, q, p)
                                   : std::min(p * d.max_rate_per_prefill, q * per_d);
      const bool better = goodput > best_goodput * (1 + 1e-12) ||
                          (std::abs(goodput - best_goodput) <= 1e-12 * goodput &&
                           p * gp + q * gd < best_p * gp + best_d * gd);
      if (better) {
        best_goodput = goodput;
        best_p = p;
        best_d = q;
      }
    }
    np = best_p;
    nd = best_d;
    out.limits.push_back(Constraint::MaxTotalGpus);
  }

  out.feasible = true;
  out.prefill = {np, d.prefill_exact, np * gp};
  out.decode = {nd, d.decode_exact, nd * gd};
  out.total_gpus = np * gp + nd * gd;
  out.notation = std::to_string(np) + "P" + std::to_string(nd) + "D";
  out.predicted = predict(in, d, np, nd);
  if (model) {
    // The most load this fleet carries with the target share of requests within both SLOs.
    const double a = d.attainment_target;
    out.meets_slo = out.predicted.attainment >= a * (1 - 1e-9);
    const double known = out.meets_slo ? d.request_rate : 0;
    const double hi = std::max(model->max_rate_ttft(np, a, known), 1e-9);
    out.predicted.capacity_requests_per_s =
        max_rate([&](double r) { return model->ttft(r, np) * model->tpot(r, nd, np); }, hi, a, known);
  } else {
    out.meets_slo = out.predicted.capacity_requests_per_s >= d.request_rate * (1 - 1e-9);
  }
  return out;
}

std::vector<Quantity> explain(const Plan& p) {
  const Derivation& d = p.d;
  std::vector<Quantity> q = {
      {"requestRate", d.request_rate, "req/s", "lambda = TP_total / (L_in + L_out)"},
      {"totalThroughput", d.total_tokens_per_s, "tokens/s", "TP_total, eq. (1)"},
      {"inputLength", d.input_length, "tokens", "mean L_in"},
      {"outputLength", d.output_length, "tokens", "mean L_out"},
      {"prefillLength", d.prefill_length, "tokens", "uncached L_in (prefix cache)"},
      {"prefillMaxThroughput", d.prefill_max_throughput, "tokens/s",
       "benchmarked max prefill throughput at that length"},
      {"overhead", d.overhead_s, "s", "T_oh: TTFT outside the prefill queue"},
      {"queueBudget", d.queue_budget_s, "s", "TTFT - T_oh, eq. (12)"},
      {"tailFactor", d.tail_factor, "", "ln(1/(1-p)); 1 for a mean target"},
      {"serviceTime", d.service_mean_s, "s", "E[S] of one prefill queue"},
      {"serviceSecondMoment", d.service_second_moment, "s^2", "E[S^2] of one prefill queue"},
      {"serviceRate", d.service_rate, "req/s", "mu = 1/E[S], eq. (9)"},
      {"maxArrivalRatePerQueue", d.max_rate_per_queue, "req/s",
       "largest lambda meeting the TTFT target"},
      {"utilisation", d.utilisation_at_max, "", "rho = lambda/mu at that rate, eq. (10)"},
      {"prefillThroughput", d.prefill_throughput, "tokens/s",
       "TP_p per replica under TTFT, eqs. (11)/(13)"},
      {"decodeBatch", d.decode_batch, "seqs", "largest batch with TPOT(b) <= target"},
      {"decodeTpotAtBatch", d.decode_tpot_at_batch_s, "s", "TPOT(b)"},
      {"decodeThroughput", d.decode_throughput, "tokens/s", "TP_d = b / TPOT(b)"},
      {"prefillExact", d.prefill_exact, "replicas", "N_p, eq. (5)"},
      {"decodeExact", d.decode_exact, "replicas", "N_d, eq. (6)"},
      {"ratio", d.ratio, "", "N_p / N_d, eq. (7)"},
  };
  if (d.attainment_target > 0) {
    q.push_back({"attainmentTarget", d.attainment_target, "", "share of feasible requests within both SLOs (slo.attainment)"});
    q.push_back({"feasibleShare", d.feasible_share, "", "share of requests that can meet both targets alone"});
    q.push_back({"arrivalDispersion", d.arrival_dispersion, "", "index of dispersion of arrivals (1 = Poisson)"});
    q.push_back({"prefillShareTarget", d.prefill_share_target, "", "share within TTFT the prefill count was sized to"});
    q.push_back({"decodeShareTarget", d.decode_share_target, "", "share within TPOT the decode count was sized to"});
  }
  if (p.feasible) {
    q.push_back({"predictedTtftMean", p.predicted.ttft_mean_s, "s", "at the chosen replicas"});
    q.push_back({"predictedTtftAtPercentile", p.predicted.ttft_at_percentile_s, "s",
                 "at the SLO's percentile"});
    q.push_back({"predictedTpot", p.predicted.tpot_s, "s", "at the steady-state decode batch"});
    q.push_back({"predictedDecodeBatch", p.predicted.decode_batch, "seqs",
                 "per decode replica, Little's law"});
    q.push_back({"capacity", p.predicted.capacity_requests_per_s, "req/s",
                 "most load the chosen fleet sustains within the SLOs"});
    q.push_back({"predictedTtftAttainment", p.predicted.ttft_attainment, "", "share of feasible requests within TTFT"});
    q.push_back({"predictedTpotAttainment", p.predicted.tpot_attainment, "", "share of feasible requests within TPOT"});
    q.push_back({"predictedAttainment", p.predicted.attainment, "", "within both (taken as independent)"});
  }
  return q;
}

}  // namespace pdscaler::planner
