#pragma once
// Loads for the simulator: request streams in arrival order that can be read any number of times
// (the simulator reads one pass; a clairvoyant policy reads a second pass ahead of it; the paper
// policy a pass to find the peak). A load is a parsed trace, a rate schedule with Poisson or
// bursty arrivals, or a long load curve given as windows of rate, dispersion and mean lengths.
// Generated loads are streamed, never held in memory, so a 14-day curve costs no more memory
// than an hour.
//
//   auto load = renewal_load({{0, 12.0}, {600, 30.0}}, 1800, LengthModel::fixed(6144, 512), 7);
//   auto r = load->read();
//   for (Request q; r->next(q);) ...

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "pdscaler/sim/trace.h"

namespace pdscaler::sim {

class LoadReader {
 public:
  virtual ~LoadReader() = default;
  // The next request in arrival order; false at the end of the load.
  virtual bool next(Request& r) = 0;
};

struct LoadProfile;

class Load {
 public:
  virtual ~Load() = default;
  // A reader from the first request; readers are independent of each other.
  virtual std::unique_ptr<LoadReader> read() const = 0;
  // Arrivals lie in [0, duration_s()].
  virtual double duration_s() const = 0;
  // Roughly how many requests a pass yields (for progress lines).
  virtual double expected_requests() const = 0;
  // A generated load's rate over time (null for a trace): what the fluid simulation and the
  // clairvoyant reference of long loads read instead of every request.
  virtual const LoadProfile* profile() const { return nullptr; }
};

// A parsed (or generated and materialised) trace.
std::shared_ptr<const Load> trace_load(Trace t);

// Request lengths of generated loads.
struct LengthModel {
  enum class Kind { Fixed, Samples, Lognormal };
  Kind kind = Kind::Fixed;
  double mean_input = 0, mean_output = 0;  // Fixed and Lognormal (Samples: their own means)
  double cv_input = 1, cv_output = 1;      // Lognormal: standard deviation over mean
  std::vector<std::pair<int, int>> samples;  // Samples: (input, output) pairs drawn uniformly

  static LengthModel fixed(double input, double output);
  static LengthModel lognormal(double input, double output, double cv_input, double cv_output);
  static LengthModel from_samples(std::vector<std::pair<int, int>> samples);
};

// Arrival rate from `start_s` on: constant, or a linear ramp to the next segment's rate. Each
// segment may set its own burstiness and mean lengths (a load curve's windows do).
struct RateSegment {
  double start_s = 0;
  double requests_per_s = 0;
  bool ramp = false;
  // Squared coefficient of variation of inter-arrival times (gamma renewal): 1 = Poisson, larger
  // = burstier. For a renewal process it is also the index of dispersion of counts over windows
  // long against the mean gap.
  double dispersion = 1;
  double mean_input = 0, mean_output = 0;  // 0 = the length model's
};

// One stretch of a generated load: the rate goes linearly from rate_start to rate_end.
struct ProfileSegment {
  double start_s = 0, end_s = 0;
  double rate_start = 0, rate_end = 0;
  double dispersion = 1;
  double mean_input = 0, mean_output = 0;  // 0 = the length model's
};

struct LoadProfile {
  std::vector<ProfileSegment> segments;  // in order, not overlapping
  LengthModel lengths;
  uint64_t seed = 0;
  // The segment holding `t_s` (null outside the load).
  const ProfileSegment* at(double t_s) const;
  double rate_at(double t_s) const;
  // Expected arrivals in [a, b].
  double mass(double a_s, double b_s) const;
};

// Arrivals of a gamma renewal process in operational time (time rescaled by the cumulative rate),
// so the rate follows the schedule and the burstiness each segment's dispersion. Deterministic
// for a seed.
std::shared_ptr<const Load> renewal_load(std::vector<RateSegment> schedule, double duration_s,
                                         LengthModel lengths, uint64_t seed);

// One window of a long load curve (../shared/data/load-curves): the CSV columns
// window_start_s, requests_per_s, index_of_dispersion, mean_input_tokens, mean_output_tokens.
struct CurveWindow {
  double start_s = 0;
  double requests_per_s = 0;
  double dispersion = 1;
  double mean_input = 0, mean_output = 0;
  bool gap = false;  // no data in the source (rate and lengths 0)
};

// Parses the curve; windows must be evenly spaced and in order. Errors name the line and column.
tl::expected<std::vector<CurveWindow>, std::string> parse_load_curve(const std::string& text);

// The schedule that replays `windows`: rates times `rate_scale`, time divided by `time_scale`.
// A gap window (no data) takes the rate and lengths interpolated between its neighbours: the
// traffic was there, only its record is missing. Scaling the rate by s < 1 thins the load (each
// request kept with probability s), so the index of dispersion I becomes 1 + s (I - 1), as for
// any randomly thinned point process; above 1 it is kept.
std::vector<RateSegment> curve_schedule(const std::vector<CurveWindow>& windows, double rate_scale,
                                        double time_scale);

// Every request of a load, in memory (for small loads and tests).
Trace materialise(const Load& load);

// Poisson (or, with segments' dispersion, bursty) arrivals at a schedule, materialised.
Trace poisson(const std::vector<RateSegment>& schedule, double duration_s, const LengthModel& lengths,
              uint64_t seed);

// Peak offered load over any window of `window_s`: tokens/s (input+output) and requests/s, and
// the mean lengths in that window.
struct Peak {
  double tokens_per_s = 0;
  double requests_per_s = 0;
  double mean_input = 0;
  double mean_output = 0;
};
Peak peak_load(const Load& load, double window_s);

}  // namespace pdscaler::sim
