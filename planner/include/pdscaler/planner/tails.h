#pragma once
// Per-request tails: the share of requests whose TTFT and TPOT meet their targets, for a fleet of
// given size at a load, so the planner can size for "99% of requests" rather than for means.
//
// Prefill. Requests queue FCFS for `servers` servers: every data-parallel group of every instance
// pooled when a least-loaded router spreads them (a request goes where the least work is queued,
// so its wait is the pooled queue's), or one instance's groups when requests go to instances at
// random. The wait W has an atom at 0 and an exponential tail, P(W > t) ~ p_wait exp(-theta t):
//   - theta solves M_S(theta / c) = (1 + theta / (k lambda))^k, the Lundberg equation of the
//     pooled workload (it decreases at rate c while all servers are busy and jumps by a service
//     time at each arrival), for gamma-renewal arrivals of shape k = 1 / c_a^2. It is exact for
//     M/M/c (theta = c mu - lambda) and the Cramer-Lundberg exponent for M/G/1;
//   - p_wait makes the mean right: p_wait = theta E[W], with E[W] from Allen-Cunneen,
//     E[W] = ErlangC(c, a) / (c mu - lambda) * (c_a^2 + c_s^2) / 2 (exact for M/M/c and, at c = 1,
//     Pollaczek-Khinchine).
// A request of service time s and overhead o meets TTFT t when W <= t - s - o; for exponential
// service (the paper's M/M/1) the sojourn W + S is convolved in closed form instead.
//
// Decode. Requests in decode form an infinite-server queue: their number has mean
// m = lambda E[steps] tau (tau the step time at the batch they see) and variance m (1 + (c_a^2 - 1)
// kappa), kappa = E[min(D1, D2)] / E[D] over decode durations D. A least-loaded router spreads
// them evenly over the instances (a batch's variance is the fleet's over D^2); a random one leaves
// each instance its own thinned occupancy. A request's TPOT is the mean step time over its life,
// so it sees the batch averaged over its own duration: variance times phi(d) =
// (2 / d^2) Int_0^d (d - u) r(u) du, r the occupancy's autocorrelation (M/G/infinity). The averaged
// batch is taken as gamma-distributed with that mean and variance; TPOT is met when it stays at or
// below the largest batch whose TPOT meets the target.
//
//   WaitTail w = wait_tail({.servers = 12, .lambda = 40, .arrival_scv = 1, .classes = svc});
//   double share = ttft_attainment(w, svc, 0.5);   // of requests that can meet 500 ms at all

#include <vector>

#include "pdscaler/planner/profile.h"
#include "pdscaler/planner/queueing.h"

namespace pdscaler::planner {

// One class of requests at prefill: its share, its service time on one queue and its TTFT
// overhead (network, KV transfer). A class may be a cell of a continuous length distribution: its
// requests then spread evenly from (service_s, overhead_s) to (service_hi_s, overhead_hi_s), so a
// TTFT target that falls inside the cell counts the part of it that can meet the target.
struct ServiceClass {
  double weight = 1;
  double service_s = 0;
  double overhead_s = 0;
  double service_hi_s = -1;   // negative: a point class
  double overhead_hi_s = -1;
  double hi_service() const { return service_hi_s < 0 ? service_s : service_hi_s; }
  double hi_overhead() const { return overhead_hi_s < 0 ? overhead_s : overhead_hi_s; }
};

struct PrefillQueue {
  int servers = 1;             // pooled servers
  double lambda = 0;           // arrivals per second to them
  double arrival_scv = 1;      // squared CV of inter-arrival times (1 = Poisson)
  bool exponential_service = false;  // the paper's M/M/1: service times exponential, mean of the classes
  std::vector<ServiceClass> classes;
};

struct WaitTail {
  bool stable = false;         // utilisation below 1
  double utilisation = 0;
  double mean_service_s = 0;
  double service_scv = 0;
  double p_wait = 0;           // P(W > 0), as the tail's prefactor
  double theta = 0;            // decay rate of P(W > t), 1/s
  double mean_wait_s = 0;
  bool exponential_service = false;
};

double erlang_c(int servers, double offered_load);
WaitTail wait_tail(const PrefillQueue& q);

// P(W > t) under the tail model.
double wait_exceeds(const WaitTail& w, double t_s);
// Share of the requests in `classes` that can meet `ttft_s` alone (service plus overhead within
// it) and do meet it. 0 when the queue is unstable; 1 when no class can be late.
double ttft_attainment(const WaitTail& w, const std::vector<ServiceClass>& classes, double ttft_s);
// The share of all requests in `classes` whose TTFT is at most `t_s` (the distribution function;
// a request whose own service and overhead exceed `t_s` counts as late). 0 when unstable.
double ttft_share_within(const WaitTail& w, const std::vector<ServiceClass>& classes, double t_s);
// The TTFT within which `share` of all requests in `classes` fall (their p-quantile).
double ttft_quantile(const WaitTail& w, const std::vector<ServiceClass>& classes, double share);
// The share of `classes` that can meet `ttft_s` on an idle fleet.
double ttft_feasible_share(const std::vector<ServiceClass>& classes, double ttft_s);

// One class of requests at decode: its share and its number of output tokens.
struct OutputClass {
  double weight = 1;
  double tokens = 1;
};

struct DecodeFleet {
  int instances = 1;
  double lambda = 0;        // requests per second entering decode
  double arrival_scv = 1;
  Routing routing = Routing::LeastLoaded;
  const Profile* tpot_by_batch = nullptr;  // seconds per step against batch size
  double max_batch = 0;     // the largest batch an instance runs (profile end or KV limit)
  std::vector<OutputClass> classes;
};

struct DecodeState {
  bool stable = false;      // the fixed point exists within the batch limit
  double step_s = 0;        // step time at the batch a request sees
  double batch = 0;         // mean batch a request sees (itself included), per instance
  double batch_variance = 0;  // of one instance's batch at an instant
  double in_decode = 0;     // requests in decode over the fleet
  double elasticity = 0;    // d ln(step time) / d ln(batch) at the batch seen
};

DecodeState decode_state(const DecodeFleet& f);
// Share of multi-token requests whose mean step time over their life meets `tpot_s` (single-token
// requests have no TPOT and count as meeting it). 0 when unstable.
double tpot_attainment(const DecodeFleet& f, const DecodeState& s, double tpot_s);

// P(X > x) for X gamma-distributed with the given mean and variance (a variance of 0 is a point).
double gamma_exceeds(double mean, double variance, double x);

}  // namespace pdscaler::planner
