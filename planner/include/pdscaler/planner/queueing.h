#pragma once
// Single-server queue formulas for one prefill queue (an instance, or one data-parallel group).
// Times in seconds, rates in requests per second. M/G/1 mean sojourn is Pollaczek-Khinchine;
// M/M/1 and M/D/1 are the special cases E[S^2] = 2 E[S]^2 and E[S^2] = E[S]^2.
//
//   ServiceMoments s = moments_for(QueueModel::MM1, 6144 / 28300.0, 0);
//   double lam = max_arrival_rate(s, 1.9, 1.0);  // 4.0798 req/s: the paper's (13) / 6144

namespace pdscaler::planner {

enum class QueueModel { MM1, MD1, MG1 };

// How a router spreads requests over instances: to the one with the least work queued (requests
// then wait as in one pooled multi-server queue), or uniformly at random (a queue per instance).
enum class Routing { LeastLoaded, Random };

struct ServiceMoments {
  double mean_s = 0;         // E[S]
  double second_moment = 0;  // E[S^2], s^2
};

// E[S^2] as the queue model prescribes. For MG1 `observed_second_moment` is used as given.
ServiceMoments moments_for(QueueModel model, double mean_s, double observed_second_moment);

// ln(1/(1-p)) for a percentile p in (0,100); 1 for p == 0 (the mean). A target on the p-quantile of
// sojourn time t_p is met when the mean sojourn is at most t_p / factor: exact for M/M/1, whose
// sojourn is exponential, and conservative for less variable service (M/D/1).
double tail_factor(double percentile);

// Mean sojourn (wait + service) at arrival rate `lambda`; +inf when the queue is unstable.
double mean_sojourn(const ServiceMoments& s, double lambda);

// Utilisation rho = lambda * E[S].
inline double utilisation(const ServiceMoments& s, double lambda) { return lambda * s.mean_s; }

// The largest arrival rate whose mean sojourn is at most `budget_s / factor`. Zero when even an
// idle server cannot meet it (budget at or below one service time).
double max_arrival_rate(const ServiceMoments& s, double budget_s, double factor);

}  // namespace pdscaler::planner
