#include "pdscaler/planner/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

}  // namespace

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
  return out;
}

Plan plan(const PlanInput& in) {
  Plan out;
  Derivation& d = out.d;
  const auto& w = in.workload;

  d.input_length = mean_input_length(w);
  d.output_length = w.output_length;
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
      out.reasons.push_back(
          ttft_label + " " + ms(in.slo.ttft_s) + " leaves " + target +
          " for prefill after overhead, which is not more than one prefill service time " +
          ms(d.service_mean_s) + " (" + num(d.prefill_length) + " tokens at " +
          num(d.prefill_max_throughput) + " tokens/s per queue of " +
          num(in.prefill.data_parallel_size) + "): even an idle instance misses it");
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
                          num(dec.tpot_by_batch.min_x()) + ") is " +
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
    long long n = round_count(exact, in.rounding);
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
  int np = size_role(d.prefill_exact, in.prefill.min_replicas, in.prefill.max_replicas,
                     Constraint::PrefillMinReplicas, Constraint::PrefillMaxReplicas);
  int nd = size_role(d.decode_exact, dec.min_replicas, dec.max_replicas,
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
    // The split with the most sustained goodput min(P capacity, D capacity); no role gets more
    // than it needs, and among equals the one with fewer GPUs wins.
    const double per_d = d.decode_throughput / d.output_length;
    int best_p = in.prefill.min_replicas, best_d = dec.min_replicas;
    double best_goodput = -1;
    for (int p = in.prefill.min_replicas; p <= np && p * gp + dec.min_replicas * gd <= budget; ++p) {
      const int q = std::min(nd, (budget - p * gp) / gd);
      const double goodput = std::min(p * d.max_rate_per_prefill, q * per_d);
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
  out.meets_slo = out.predicted.capacity_requests_per_s >= d.request_rate * (1 - 1e-9);
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
  if (p.feasible) {
    q.push_back({"predictedTtftMean", p.predicted.ttft_mean_s, "s", "at the chosen replicas"});
    q.push_back({"predictedTtftAtPercentile", p.predicted.ttft_at_percentile_s, "s",
                 "at the SLO's percentile"});
    q.push_back({"predictedTpot", p.predicted.tpot_s, "s", "at the steady-state decode batch"});
    q.push_back({"predictedDecodeBatch", p.predicted.decode_batch, "seqs",
                 "per decode replica, Little's law"});
    q.push_back({"capacity", p.predicted.capacity_requests_per_s, "req/s",
                 "most load the chosen fleet sustains within the SLOs"});
  }
  return q;
}

}  // namespace pdscaler::planner
