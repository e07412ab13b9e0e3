#pragma once
// The live policy: the planner applied to measured load, looking ahead over the start-up delay,
// with stabilisation. Pure: time and measurements are arguments. The operator runs this; the
// simulator replays it, so a simulation is a dry run of the operator's decisions.
//
//   Autoscaler a(spec, {.startup_s = 60});
//   Recommendation r = a.step({.t_s = now, .requests_per_s = 12.5, .mean_input = 6144, ...},
//                             current_prefill, current_decode);

#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <vector>
#include <optional>
#include <string>
#include <utility>

#include "pdscaler/planner/plan.h"

namespace pdscaler::planner {

// A load as measured (or known): what the planner needs to size for it.
struct MeasuredLoad {
  double requests_per_s = 0;
  double mean_input = 0;   // 0 = keep the spec's lengths
  double mean_output = 0;
  std::optional<double> input_stddev;           // for an MG1 prefill
  std::optional<double> prefix_cache_hit_rate;  // where the engine reports it
  std::optional<double> dispersion;             // of arrivals (index of dispersion of counts)
  std::optional<double> output_stddev;
  // The output lengths' histogram, as an engine exports it: cumulative counts (or rates) per upper
  // bound `le`, ascending, +Inf last; empty = not known (the lognormal of the stddev is used).
  std::vector<std::pair<double, double>> output_histogram;
};

// Output lengths as weighted points from a cumulative histogram of whole-token lengths: each
// finite bucket (lo, hi] spread evenly over its lengths (at most 4 points), the +Inf bucket at the
// length that makes the mean `mean` (when given; else 1.5 times the last bound). Empty when the
// histogram holds nothing.
std::vector<LengthBucket> lengths_from_histogram(const std::vector<std::pair<double, double>>& cumulative,
                                                 double mean = 0);

// The spec with its workload replaced by `load`: every policy that plans (pdscaler's, the
// clairvoyant reference, DOPD) goes through this, so they size identically for the same load.
PlanInput at_load(PlanInput spec, const MeasuredLoad& load);

// Holt's linear trend on the request rate, with the spread of its one-step errors, so the policy
// can provision for a forecast quantile rather than the mean.
class Forecaster {
 public:
  Forecaster(double alpha = 0.5, double beta = 0.2) : alpha_(alpha), beta_(beta) {}
  void observe(double t_s, double value);
  // The value `horizon_s` ahead at quantile z (0 = the point forecast; 1.28 = p90), with the
  // quantile's margin, and the trend's rise over the horizon, each at most kMaxMargin of the
  // current level (a burst's slope is not a trend to extrapolate).
  double forecast(double horizon_s, double z) const;
  static constexpr double kMaxMargin = 0.25;
  static constexpr double kMaxGap = 300;  // seconds between points beyond which the trend restarts
  bool ready() const { return n_ >= 1; }

 private:
  double alpha_, beta_;
  double level_ = 0, trend_ = 0;  // trend per second
  double err_var_ = 0;
  double last_t_ = 0;
  int n_ = 0;
};

// The peaks the load reached over windows as long as the forecast horizon, in the recent past: a
// load whose bursts come and go faster than instances start has to be provisioned for the bursts
// it keeps having, not for the quiet between them. envelope() is a high quantile of those peaks;
// for a smooth load it stays close to the current rate.
class PeakEnvelope {
 public:
  void observe(double t_s, double rate);
  // The `q` quantile of the highest rate within [t, t + horizon_s] over the samples of the last
  // `memory_s` (0 without samples).
  double envelope(double horizon_s, double memory_s, double q) const;

 private:
  std::deque<std::pair<double, double>> samples_;
};

// Daily seasonality of the request rate: per-bucket means over the last days, so the rate a
// start-up time ahead can be read off the same time of day before, scaled by how today compares
// with it over the last hour (a seasonal-naive forecast with a level correction). Buckets with no
// measurement (metrics down, data gaps) are missing, never zero. Buckets are five minutes: the
// busiest of the stretch ahead is then a peak of the daily shape, not the noise of one minute
// (the highest of some forty noisy minutes); shorter bursts are the burst envelope's and the
// tail model's. Once `weekly` periods of history are there, the same time that many periods
// before counts too (the higher of the two): a burst that comes on one day of the week (a weekly
// batch job, Monday morning) came a week ago, not yesterday.
class SeasonalForecaster {
 public:
  explicit SeasonalForecaster(double period_s = 86400, double bucket_s = 300, int weekly = 7)
      : period_s_(period_s),
        bucket_s_(bucket_s),
        weekly_(weekly),
        keep_(static_cast<size_t>((std::max(1, weekly) + 1) * period_s / bucket_s)) {}
  void observe(double t_s, double rate);
  // The highest rate expected over [t + from_s, t + to_s], or nothing without a period of history
  // (or when the same time a period ago, or the last hour, has no data).
  std::optional<double> forecast(double t_s, double from_s, double to_s) const;
  // Remembers a forecast made for time `for_t_s`, to learn the forecast's error when it comes.
  void record(double for_t_s, double forecast);
  // The seasonal forecast's relative error at the horizon it was last asked for, as a standard
  // deviation (an exponentially weighted estimate from the forecasts it made and what came).
  double relative_error() const { return std::sqrt(err_var_); }

 private:
  double mean_over(double from_s, double to_s) const;  // NaN without data
  // The highest rate over [t + from_s, t + to_s] `back_s` before, scaled by the last hour's
  // ratio to the same hour then.
  std::optional<double> forecast_from(double t_s, double from_s, double to_s, double back_s) const;
  double period_s_, bucket_s_;
  int weekly_;  // 0: the period before only
  size_t keep_;
  std::deque<std::pair<long long, std::pair<double, int>>> buckets_;  // bucket index -> (sum, count)
  std::deque<std::pair<double, double>> pending_;  // (time it is for, forecast made for it)
  double err_var_ = 0.04;                          // prior: 20%
  int errors_ = 0;
  double first_t_ = -1;
};

struct StabilizerConfig {
  double scale_down_window_s = 300;  // scale down only to the highest recommendation in it
  int max_step_up = 0;               // most replicas added at once; 0 = no limit
  double dead_band = 0.1;            // most room kept above the window's highest need, as a share of it
  bool nearest = false;              // counts round to the nearest (spec rounding Nearest), not up
};

// Per role: scale up at once (within the step limit); scale down only to the highest
// recommendation of the window, and to no count that leaves less room above the window's highest
// need than the needs' own spread in it (highest minus mean, at most dead_band of that need: a
// steady need gets its own count, one that hovers keeps the room it swings through).
class Stabilizer {
 public:
  explicit Stabilizer(StabilizerConfig c = {}) : c_(c) {}
  // `recommended` replicas with `exact` need (fractional); `current` what the workload has.
  int apply(double t_s, int recommended, double exact, int current);
  // A recommendation made before a restart (with the need it was made for; the count itself when
  // that is not known), so the scale-down window covers it. `merged`: it stands for several
  // evaluations (their highest), so the window's needs no longer show their spread and a scale-down
  // keeps the whole dead band above the top need.
  void remember(double t_s, int recommended, double need, bool merged = false);
  void set_window(double s) { c_.scale_down_window_s = s; }

 private:
  struct Seen {
    double t_s;
    int recommended;
    double need;
    bool merged;
  };
  StabilizerConfig c_;
  std::deque<Seen> history_;
};

// Online calibration: the declared profiles were measured on a bench; the running fleet may be
// faster or slower (other kernels, other context mix, noisy neighbours). Each window in which the
// fleet held one size and served enough requests, the calibrator solves for the profile factors
// under which the model predicts the observed mean TTFT and TPOT at that fleet and load, and
// moves its factors towards them (an average in log space), never beyond the bounds.
struct CalibrationConfig {
  bool enabled = true;
  double max_correction = 0.25;  // factors stay within [1/(1+m), 1+m]
  double min_requests = 100;     // a window with fewer completed requests is not evidence
  double weight = 0.3;           // of one window, in log space
  double window_s = 60;          // the measurement window: the fleet must be steady over it
  double max_imbalance = 0.1;    // arrivals and completions may differ by this share (no backlog
                                 // building up or draining, e.g. after a scale-up)
};

struct CalibrationState {
  double prefill_throughput = 1;  // multiplies the prefill max-throughput profile
  double decode_tpot = 1;         // multiplies the decode TPOT profile
  int windows = 0;                // windows that moved the factors
  std::string last;               // what the last window did: "used", or why it was skipped
};

// One measurement window as the calibrator sees it.
struct CalibrationWindow {
  double t_s = 0;
  double requests_per_s = 0;      // arrivals
  double completed_requests = 0;  // in the window
  std::optional<double> ttft_s;   // observed means
  std::optional<double> tpot_s;
  int prefill_ready = 0;          // the fleet serving the window
  int decode_ready = 0;
};

class Calibrator {
 public:
  explicit Calibrator(CalibrationConfig c = {}) : c_(c) {}
  // `at_load`: the spec at the window's measured load (rate and lengths), uncalibrated.
  void observe(const PlanInput& at_load, const CalibrationWindow& w);
  // The spec with the current factors applied to its profiles.
  PlanInput apply(PlanInput spec) const;
  const CalibrationState& state() const { return s_; }
  void restore(const CalibrationState& s);
  // The factor under which `predicted(factor)` meets `observed`, within [lo, hi]; `predicted`
  // must be monotonic in the factor (either direction). Exposed for tests.
  static double solve(const std::function<double(double)>& predicted, double observed, double lo, double hi);

 private:
  CalibrationConfig c_;
  CalibrationState s_;
  int last_p_ = -1, last_d_ = -1;
  double fleet_since_ = 0;
};

struct LoadSample {
  double t_s = 0;
  double requests_per_s = 0;
  double mean_input = 0;
  double mean_output = 0;
  std::optional<double> input_stddev;
  std::optional<double> output_stddev;
  std::optional<double> prefix_cache_hit_rate;  // where the engine reports it
  std::optional<double> dispersion;             // index of dispersion of arrival counts, measured
  std::vector<std::pair<double, double>> output_histogram;  // as MeasuredLoad's; empty = none
  // Work already queued: requests waiting for prefill, and for a decode batch slot (absent: none
  // known).
  double prefill_waiting = 0;
  double decode_waiting = 0;
  // For calibration (absent: the window is not used).
  double completed_requests = 0;
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  int prefill_ready = -1;
  int decode_ready = -1;
};

struct AutoscalerConfig {
  double startup_s = 60;      // time from asking to serving (measured pod start-up in the operator)
  double interval_s = 15;     // how often step() is called
  double forecast_z = 1.28;   // provision for the forecast's p90
  bool seasonal = true;       // use the daily seasonal forecast once a day of history is there
  // The burst envelope: the 80th percentile of the load's peaks over horizon-long windows in the
  // last max(scale-down window, 2 horizons); 0 turns it off.
  double envelope_quantile = 0.8;
  StabilizerConfig stabilizer;
  // The scale-down window covers at least the start-up time: capacity given up is not back
  // sooner than that, so a need the window has not seen for a start-up time is the only safe
  // reason to drop it. Off when the window was set explicitly (spec.metrics.scaleDownWindow).
  bool window_covers_startup = true;
  CalibrationConfig calibration;
};

// One evaluation, as kept across operator restarts (the newest, covering the scale-down window).
struct HistoryPoint {
  double t_s = 0;
  double requests_per_s = 0;
  int prefill = 0;  // what the model recommended, before stabilisation
  int decode = 0;
  // The fractional needs those counts were rounded from (the stabiliser's room is measured on
  // them); not a finite number where unknown (saved by an older operator): the counts stand in.
  double prefill_need = std::numeric_limits<double>::quiet_NaN();
  double decode_need = std::numeric_limits<double>::quiet_NaN();
  // How many evaluations this point stands for: more than 1 once merged (the highest counts and
  // needs of them, at the latest time).
  int evaluations = 1;
};

struct Recommendation {
  int prefill = 0;
  int decode = 0;
  Plan plan;                  // at the provisioned load
  PlanInput input;            // what was planned: calibrated, at the provisioned load
  double provisioned_rate = 0;  // requests/s planned for
  std::string method;         // how the load was chosen, for status
  double dispersion = 1;      // the arrivals' dispersion planned with
  double backlog_rate = 0;    // requests/s added for the prefill queue to drain
  CalibrationState calibration;
  // The calibrated model's TTFT/TPOT for the fleet that served the window, at the measured load
  // (absent without ready counts), to set beside the observed ones.
  std::optional<Prediction> predicted_now;
  // What that prediction was made from: the calibrated spec at the measured load, its request
  // rate and the ready fleet; with AttainmentModel, the model's distribution of TTFT and TPOT.
  std::optional<PlanInput> input_now;
  double rate_now = 0;
  int prefill_now = 0;
  int decode_now = 0;
};

class Autoscaler {
 public:
  Autoscaler(PlanInput spec, AutoscalerConfig cfg);
  Recommendation step(const LoadSample& s, int current_prefill, int current_decode);
  // The start-up time to look ahead over, once measured on the cluster.
  void set_startup_s(double s);
  // The scale-down window in use: the configured one, or the start-up time when that is longer
  // (AutoscalerConfig::window_covers_startup).
  double scale_down_window_s() const;
  // Past rates (time, requests/s) the autoscaler did not observe itself, e.g. a day read from
  // Prometheus at start-up, for the seasonal forecast.
  // The input and output tokens/s (time, tokens/s) likewise, where the caller has them.
  void seed_seasonal(const std::vector<std::pair<double, double>>& points,
                     const std::vector<std::pair<double, double>>& input_tokens = {},
                     const std::vector<std::pair<double, double>>& output_tokens = {});
  // No measurement at `t_s` (metrics missing): the current counts count as recommended, so a
  // scale-down needs a full window of good measurements after the data comes back.
  void hold(double t_s, int current_prefill, int current_decode);

  // The evaluations of the last max(scale-down window, kHistory intervals), to save. At most
  // kMaxHistory points: beyond that (a window of more than kMaxHistory intervals) the points are
  // merged per slot of a fixed grid (kMaxHistory / 2 slots over that span, aligned to absolute
  // time), each keeping the latest time and the highest recommendation and need of its slot, so a
  // restored stabiliser never sees a lower peak, and sees one leave its window at most a slot late.
  const std::deque<HistoryPoint>& history() const { return history_; }
  static constexpr std::size_t kHistory = 40;
  static constexpr std::size_t kMaxHistory = 240;
  // Replays saved evaluations into the forecaster and the stabilisers, and the saved calibration,
  // so a restarted operator neither forgets a trend nor scales down inside the window. Without a
  // history, the first step counts the current replicas as recommended (a full window to scale down).
  // Call set_startup_s first where the start-up time (and so the window) is known: what restore
  // keeps is trimmed to the window in use then.
  void restore(const std::vector<HistoryPoint>& h, const std::optional<CalibrationState>& c);

 private:
  // Folds a window's output-length histogram into out_hist_ (shares, so windows of any rate
  // weigh alike); a change of bounds starts over.
  void smooth_histogram(const std::vector<std::pair<double, double>>& cumulative, double a);
  void record(const HistoryPoint& p);
  void trim_history();
  // The configured stabiliser, counting as the spec's rounding does.
  static StabilizerConfig stabilizer_config(const PlanInput& spec, const AutoscalerConfig& cfg);
  PlanInput spec_;
  AutoscalerConfig cfg_;
  Forecaster rate_;
  SeasonalForecaster season_;
  // The same for the work: input tokens/s (prefill) and output tokens/s (decode). A daily burst
  // of long prompts at an ordinary request rate (a nightly batch job, a morning report run) is a
  // burst of prefill work that the request rate does not show.
  SeasonalForecaster season_input_, season_output_;
  PeakEnvelope peaks_;
  // The same over output tokens/s: where bursts of requests are bursts of short answers (the Azure
  // conversation trace's busiest minutes have outputs a third shorter than its median), decode is
  // sized for the decode load's own peaks, not the request rate's at the mean length.
  PeakEnvelope output_peaks_;
  Stabilizer prefill_, decode_;
  Calibrator calibrator_;
  std::deque<HistoryPoint> history_;
  double mean_in_ = 0, mean_out_ = 0, sd_in_ = 0;
  std::optional<double> sd_out_;
  std::vector<std::pair<double, double>> out_hist_;  // smoothed shares per upper bound
  std::deque<double> dispersions_;  // the last windows' estimates (their median is used)
  std::optional<double> prefix_hit_;
  bool have_lengths_ = false;
};

}  // namespace pdscaler::planner
