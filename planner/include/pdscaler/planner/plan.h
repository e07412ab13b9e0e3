#pragma once
// The sizing model: how many prefill and decode replicas meet the SLOs at a load (the seed paper's
// equations (1)-(13), generalised to tail targets, mixed lengths, data parallelism, prefix caching,
// length-dependent KV transfer and GPU budgets), and what a given fleet is predicted to deliver.
//
//   Plan p = plan(input);
//   if (!p.feasible) for (auto& r : p.reasons) std::cerr << r << "\n";
//   else std::cout << p.notation;  // "4P4D"

#include <string>
#include <vector>

#include "pdscaler/planner/spec.h"
#include "pdscaler/planner/tails.h"

namespace pdscaler::planner {

// What limited the integer counts, besides the SLO model itself.
enum class Constraint {
  None,
  PrefillMinReplicas,
  PrefillMaxReplicas,
  DecodeMinReplicas,
  DecodeMaxReplicas,
  MaxTotalGpus,
};
const char* constraint_field(Constraint c);  // "prefill.maxReplicas", ...; "" for None

// Every intermediate quantity of the model, for explanations and tests.
struct Derivation {
  double request_rate = 0;          // lambda, requests/s
  double total_tokens_per_s = 0;    // TP_total, eq. (1)
  double input_length = 0;          // mean L_in
  double output_length = 0;         // mean L_out
  double prefill_length = 0;        // mean uncached L_in
  double prefill_max_throughput = 0;  // TPmax_p at the prefill length, tokens/s
  double overhead_s = 0;            // mean T_oh (fixed + per-token part)
  double queue_budget_s = 0;        // TTFT - T_oh
  double tail_factor = 1;           // ln(1/(1-p)), 1 for the mean
  double service_mean_s = 0;        // E[S] of one queue
  double service_second_moment = 0; // E[S^2] of one queue
  double service_rate = 0;          // mu = 1/E[S] of one queue, eq. (9)
  double max_rate_per_queue = 0;    // lambda_max of one queue, requests/s
  double max_rate_per_prefill = 0;  // lambda_max of one replica (all DP groups)
  double utilisation_at_max = 0;    // rho, eq. (10), at lambda_max
  double prefill_throughput = 0;    // TP_p, eq. (13) generalised: uncached tokens/s per replica
  double decode_batch = 0;          // largest batch meeting TPOT
  double decode_tpot_at_batch_s = 0;
  double decode_throughput = 0;     // TP_d = b / TPOT(b), tokens/s per replica
  double prefill_exact = 0;         // N_p, eq. (5); with an attainment target, the load over what
  double decode_exact = 0;          // N_d, eq. (6)   the chosen count carries at its share, times it
  double ratio = 0;                 // N_p / N_d, eq. (7)
  // With slo.attainment: the target, and the shares each role was sized to (their product meets it).
  double attainment_target = 0;     // share of feasible requests; 0 = the paper's mean model
  double prefill_share_target = 0;
  double decode_share_target = 0;
  double arrival_dispersion = 1;
  double feasible_share = 1;        // of all requests, those that can meet both targets alone
};

struct RolePlan {
  int replicas = 0;
  double exact_replicas = 0;
  int gpus = 0;
};

// What a fleet of given size is predicted to deliver at the input's load.
struct Prediction {
  double ttft_mean_s = 0;        // +inf when prefill is overloaded
  double ttft_at_percentile_s = 0;  // = mean when the SLO is on the mean
  double prefill_utilisation = 0;
  double tpot_s = 0;             // +inf when decode cannot keep up
  double decode_batch = 0;       // steady-state batch per decode replica (Little's law)
  double capacity_requests_per_s = 0;  // the most load this fleet sustains within the SLOs
  // Per request (the tail model), of the requests that can meet both targets alone:
  double ttft_attainment = 0;    // share within TTFT
  double tpot_attainment = 0;    // share within TPOT
  double attainment = 0;         // within both (the two taken as independent)
};

// The per-request model of one spec: the share of requests meeting TTFT for a prefill fleet, and
// TPOT for a decode fleet, at a load, with the spec's lengths, routing and burstiness (tails.h).
// It refers to the spec, which must outlive it; one model is for one thread.
class AttainmentModel {
 public:
  explicit AttainmentModel(const PlanInput& in);
  double ttft(double requests_per_s, int prefill_replicas) const;
  // Decode sees the prefill fleet's departures, smoother than its arrivals where prefill is
  // busy: with `prefill_replicas` (> 0) their dispersion is used, else the arrivals'.
  double tpot(double requests_per_s, int decode_replicas, int prefill_replicas = 0) const;
  // The distribution functions behind those shares, over all requests: the share whose TTFT (TPOT)
  // is at most `t_s`, whatever the SLO's target (for reading a histogram inside a bucket).
  double ttft_within(double requests_per_s, int prefill_replicas, double t_s) const;
  double tpot_within(double requests_per_s, int decode_replicas, int prefill_replicas, double t_s) const;
  WaitTail wait(double requests_per_s, int prefill_replicas) const;
  DecodeState decode(double requests_per_s, int decode_replicas, int prefill_replicas = 0) const;
  // The dispersion of the requests leaving prefill, as decode's occupancy sees it: the gaps'
  // squared CV (Whitt's approximation for a multi-server queue: c_d^2 = 1 + (1 - rho^2)(c_a^2 - 1)
  // + rho^2 (c_s^2 - 1) / sqrt(c)) over short windows, moving to the arrivals' c_a^2 as a
  // request's decode time grows past the prefill queue's relaxation time.
  double departure_scv(double requests_per_s, int prefill_replicas) const;
  // Share of all requests that can meet both targets alone on an idle fleet.
  double feasible_share() const { return feasible_share_; }
  // The largest arrival rate at which `replicas` keep `share` (bisection on the rate, above
  // `known` when a rate that keeps it is known).
  double max_rate_ttft(int prefill_replicas, double share, double known = 0) const;
  double max_rate_tpot(int decode_replicas, double share, int prefill_replicas = 0, double known = 0) const;
  const std::vector<ServiceClass>& input_classes() const { return input_; }
  const std::vector<OutputClass>& output_classes() const { return output_; }

 private:
  // The waits of the last few (rate, prefill) pairs asked: sizing asks the same ones often.
  struct CachedWait {
    double rps;
    int prefill;
    WaitTail w;
  };
  mutable std::vector<CachedWait> waits_;
  DecodeFleet fleet(double requests_per_s, int decode_replicas, int prefill_replicas) const;
  const PlanInput* in_;
  std::vector<ServiceClass> input_;
  std::vector<OutputClass> output_;
  double decode_steps_ = 0;  // mean decode steps per request (output tokens after the first)
  bool exponential_ = false;
  double feasible_share_ = 1;
  double max_batch_ = 1;
};

struct Plan {
  bool feasible = false;
  std::vector<std::string> reasons;   // why infeasible, with the numbers
  std::vector<std::string> warnings;  // clamped lookups, dropped profile points, caps
  Derivation d;
  RolePlan prefill;
  RolePlan decode;
  int total_gpus = 0;
  std::string notation;  // "3P4D"
  std::vector<Constraint> limits;  // every constraint that moved a count; empty if none
  bool meets_slo = false;          // the chosen counts sustain the load within the SLOs
  Prediction predicted;
};

Plan plan(const PlanInput& in);

// Predicted TTFT/TPOT for `prefill_replicas`/`decode_replicas` at the input's load.
Prediction predict(const PlanInput& in, const Derivation& d, int prefill_replicas,
                   int decode_replicas);

struct Quantity {
  std::string name;
  double value;
  std::string unit;
  std::string meaning;
};
// Length classes for the tail model: a lognormal of the given mean and standard deviation in 15
// bands (finer in the upper tail), each at its conditional mean, with its probability.
std::vector<std::pair<double, double>> lognormal_bands(double mean, double stddev);
// The same distribution as 42 cells between quantiles (32 up to the 96th percentile, then finer),
// each spreading its probability evenly between its ends; the last, above 1 - 1e-5, a point.
struct LengthCell {
  double weight = 0;
  double lo = 0, hi = 0;
};
std::vector<LengthCell> lognormal_cells(double mean, double stddev);

// The derivation as named rows, in the order the model computes them.
std::vector<Quantity> explain(const Plan& p);

}  // namespace pdscaler::planner
