#include "pdscaler/planner/autoscale.h"

#include <algorithm>
#include <cmath>

namespace pdscaler::planner {

PlanInput at_load(PlanInput spec, const MeasuredLoad& load) {
  auto& w = spec.workload;
  w.rate_unit = RateUnit::RequestsPerSecond;
  w.rate = load.requests_per_s;
  if (load.mean_input > 0 && load.mean_output > 0) {
    w.input_length = load.mean_input;
    w.output_length = load.mean_output;
    w.input_length_distribution.clear();
    w.input_length_stddev.reset();
    if (spec.prefill.queue_model == QueueModel::MG1 && load.input_stddev) w.input_length_stddev = *load.input_stddev;
    if (load.output_stddev) w.output_length_stddev = *load.output_stddev;
    w.output_length_distribution = lengths_from_histogram(load.output_histogram, load.mean_output);
  }
  if (load.prefix_cache_hit_rate) w.prefix_cache_hit_rate = std::clamp(*load.prefix_cache_hit_rate, 0.0, 0.99);
  if (load.dispersion) w.arrival_dispersion = std::clamp(*load.dispersion, 0.2, 1000.0);
  return spec;
}

std::vector<LengthBucket> lengths_from_histogram(const std::vector<std::pair<double, double>>& cumulative,
                                                 double mean) {
  struct Bucket {
    double lo, hi, count;  // whole lengths lo..hi
  };
  std::vector<Bucket> finite;
  double prev_bound = 0, prev_count = 0, total = 0, tail = 0;
  for (const auto& [bound, count] : cumulative) {
    const double in_bucket = std::max(0.0, count - prev_count);
    prev_count = std::max(prev_count, count);
    if (!std::isfinite(bound)) {
      tail += in_bucket;
    } else {
      if (bound <= prev_bound) continue;
      const double lo = std::floor(prev_bound) + 1, hi = std::max(lo, std::floor(bound));
      if (in_bucket > 0) finite.push_back({lo, hi, in_bucket});
      prev_bound = bound;
    }
    total += in_bucket;
  }
  std::vector<LengthBucket> out;
  if (total <= 0) return out;
  // Where inside its bucket the mass sits: the same fraction f of every finite bucket's width,
  // chosen with the +Inf bucket's length so that the mean is the measured one (a fixed length of
  // 512 in vLLM's (500, 1000] bucket stays 512); the middle without a mean.
  double low = 0, width = 0;
  for (const auto& b : finite) low += b.count * b.lo, width += b.count * (b.hi - b.lo);
  const double tail_floor = prev_bound + 1;
  double f = 0.5, tail_len = 1.5 * tail_floor;
  if (mean > 0) {
    const double sum = mean * total;
    if (tail > 0) {
      tail_len = (sum - low - f * width) / tail;
      if (tail_len < tail_floor) {
        tail_len = tail_floor;
        f = width > 0 ? std::clamp((sum - tail * tail_len - low) / width, 0.0, 1.0) : 0.5;
      }
    } else if (width > 0) {
      f = std::clamp((sum - low) / width, 0.0, 1.0);
    }
  }
  for (const auto& b : finite) {
    // Up to 4 points around the bucket's mean, spread evenly but kept inside the bucket.
    const double w = b.hi - b.lo, at = b.lo + f * w, mid = b.lo + 0.5 * w;
    const int n = static_cast<int>(std::clamp(w + 1, 1.0, 4.0));
    const double shrink = w > 0 ? std::min(1.0, std::min(at - b.lo, b.hi - at) / (0.5 * w)) : 0;
    for (int k = 0; k < n; ++k) {
      const double even = n == w + 1 ? b.lo + k : b.lo + w * (k + 0.5) / n;
      out.push_back({std::max(1.0, at + (even - mid) * shrink), b.count / n});
    }
  }
  if (tail > 0) out.push_back({std::max(tail_floor, tail_len), tail});
  return out;
}

void PeakEnvelope::observe(double t_s, double rate) {
  samples_.emplace_back(t_s, rate);
  // Keep a day at most; callers ask for far less.
  while (!samples_.empty() && samples_.front().first < t_s - 86400) samples_.pop_front();
}

double PeakEnvelope::envelope(double horizon_s, double memory_s, double q) const {
  if (samples_.empty()) return 0;
  const double now = samples_.back().first;
  std::vector<double> peaks;
  for (size_t i = 0; i < samples_.size(); ++i) {
    if (samples_[i].first < now - memory_s) continue;
    double peak = 0;
    for (size_t j = i; j < samples_.size() && samples_[j].first <= samples_[i].first + horizon_s; ++j)
      peak = std::max(peak, samples_[j].second);
    peaks.push_back(peak);
  }
  if (peaks.empty()) return 0;
  const size_t k = std::min(peaks.size() - 1, static_cast<size_t>(q * static_cast<double>(peaks.size() - 1) + 0.5));
  std::nth_element(peaks.begin(), peaks.begin() + static_cast<long>(k), peaks.end());
  return peaks[k];
}

void SeasonalForecaster::observe(double t_s, double rate) {
  if (first_t_ < 0) first_t_ = t_s;
  const auto k = static_cast<long long>(std::floor(t_s / bucket_s_));
  if (!buckets_.empty() && buckets_.back().first == k) {
    buckets_.back().second.first += rate;
    buckets_.back().second.second += 1;
  } else if (buckets_.empty() || k > buckets_.back().first) {
    buckets_.push_back({k, {rate, 1}});
  }
  while (!buckets_.empty() && buckets_.front().first < k - static_cast<long long>(keep_)) buckets_.pop_front();
  // Forecasts made for now: how far off were they?
  while (!pending_.empty() && pending_.front().first <= t_s) {
    const double f = pending_.front().second;
    pending_.pop_front();
    if (rate <= 0 && f <= 0) continue;
    const double rel = (rate - f) / std::max(rate, f);
    err_var_ = errors_ < 20 ? (err_var_ * errors_ + rel * rel) / (errors_ + 1) : 0.95 * err_var_ + 0.05 * rel * rel;
    ++errors_;
  }
}

void SeasonalForecaster::record(double for_t_s, double forecast) {
  if (!pending_.empty() && for_t_s <= pending_.back().first) return;
  pending_.emplace_back(for_t_s, forecast);
}

double SeasonalForecaster::mean_over(double from_s, double to_s) const {
  const auto a = static_cast<long long>(std::floor(from_s / bucket_s_)), b = static_cast<long long>(std::floor(to_s / bucket_s_));
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), a, [](const auto& x, long long k) { return x.first < k; });
  double sum = 0;
  int n = 0;
  for (; it != buckets_.end() && it->first <= b; ++it) {
    sum += it->second.first / it->second.second;
    ++n;
  }
  return n > 0 ? sum / n : std::nan("");
}

std::optional<double> SeasonalForecaster::forecast_from(double t_s, double from_s, double to_s, double back_s) const {
  // Today's last hour against the same hour then: the level correction.
  const double now = mean_over(t_s - 3600, t_s), then = mean_over(t_s - 3600 - back_s, t_s - back_s);
  if (!(now >= 0) || !(then > 0)) return std::nullopt;
  const double ratio = std::clamp(now / then, 0.2, 5.0);
  // The busiest bucket of the same stretch then.
  const auto a = static_cast<long long>(std::floor((t_s + from_s - back_s) / bucket_s_));
  const auto b = static_cast<long long>(std::floor((t_s + to_s - back_s) / bucket_s_));
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), a, [](const auto& x, long long k) { return x.first < k; });
  double peak = -1;
  for (; it != buckets_.end() && it->first <= b; ++it) peak = std::max(peak, it->second.first / it->second.second);
  if (peak < 0) return std::nullopt;
  return peak * ratio;
}

std::optional<double> SeasonalForecaster::forecast(double t_s, double from_s, double to_s) const {
  if (first_t_ < 0 || t_s - first_t_ < period_s_) return std::nullopt;
  const auto day = forecast_from(t_s, from_s, to_s, period_s_);
  if (!day || weekly_ <= 0 || t_s - first_t_ < weekly_ * period_s_) return day;
  const auto week = forecast_from(t_s, from_s, to_s, weekly_ * period_s_);
  return week ? std::max(*day, *week) : day;
}

void Forecaster::observe(double t_s, double value) {
  if (n_ == 0 || t_s - last_t_ > kMaxGap) {
    // The first point, or the first after a long gap (metrics down, operator away): a trend
    // projected across the gap would be a guess, so start again from the level.
    level_ = value;
    trend_ = 0;
  } else {
    const double dt = std::max(1e-9, t_s - last_t_);
    const double predicted = level_ + trend_ * dt;
    const double err = value - predicted;
    err_var_ = n_ == 1 ? err * err : 0.8 * err_var_ + 0.2 * err * err;
    const double prev = level_;
    level_ = alpha_ * value + (1 - alpha_) * predicted;
    trend_ = beta_ * (level_ - prev) / dt + (1 - beta_) * trend_;
  }
  last_t_ = t_s;
  ++n_;
}

double Forecaster::forecast(double horizon_s, double z) const {
  // Never forecast below the current level on a falling trend: scale-down is the stabiliser's job.
  const double point = level_ + std::min(std::max(0.0, trend_) * horizon_s, kMaxMargin * std::max(level_, 0.0));
  // The error spread right after a level shift is the shift itself, not noise: cap the margin at
  // kMaxMargin of the level so one step does not provision far above the new load for minutes.
  const double margin = std::min(z * std::sqrt(err_var_), kMaxMargin * std::max(level_, 0.0));
  return std::max(0.0, point + margin);
}

int Stabilizer::apply(double t_s, int recommended, double exact, int current) {
  remember(t_s, recommended, exact);
  if (recommended > current) {
    if (c_.max_step_up > 0) return std::min(recommended, current + c_.max_step_up);
    return recommended;
  }
  // Down only to the highest recommendation of the window, and with room above the window's
  // highest need for the needs' own spread in it (highest minus mean), so that a need hovering
  // just under a count does not scale down and straight back up. The room is at most the dead
  // band of that need, and the whole band while the window holds too few needs to show a spread.
  int highest = recommended;
  double top = exact, sum = 0;
  bool merged = false;  // a merged point's need is its evaluations' highest: no spread to measure
  for (const auto& h : history_) {
    highest = std::max(highest, h.recommended);
    top = std::max(top, h.need);
    sum += h.need;
    merged = merged || h.merged;
  }
  double room = c_.dead_band * top;
  if (history_.size() >= 4 && !merged) room = std::min(room, top - sum / static_cast<double>(history_.size()));
  // Counted as the planner counts (so a fleet settles on the same count from above and below);
  // a need that is not a finite number is no reason to scale down.
  const double want = c_.nearest ? std::round(top + room) : std::ceil(top + room - 1e-9);
  if (!(want < current)) return current;
  return std::min(current, std::max(highest, static_cast<int>(std::max(0.0, want))));
}

void Stabilizer::remember(double t_s, int recommended, double need, bool merged) {
  history_.push_back({t_s, recommended, need, merged});
  while (!history_.empty() && history_.front().t_s < t_s - c_.scale_down_window_s) history_.pop_front();
}

double Calibrator::solve(const std::function<double(double)>& predicted, double observed, double lo, double hi) {
  const double at_lo = predicted(lo), at_hi = predicted(hi);
  const bool rising = at_hi > at_lo;
  // Outside what the bounds can explain: the nearest bound.
  if (rising ? observed <= at_lo : observed >= at_lo) return lo;
  if (rising ? observed >= at_hi : observed <= at_hi) return hi;
  double a = std::log(lo), b = std::log(hi);
  for (int i = 0; i < 50; ++i) {
    const double m = 0.5 * (a + b);
    const double v = predicted(std::exp(m));
    if ((v < observed) == rising) a = m; else b = m;
  }
  return std::exp(0.5 * (a + b));
}

PlanInput Calibrator::apply(PlanInput spec) const {
  if (s_.prefill_throughput != 1) spec.prefill.max_throughput = spec.prefill.max_throughput.scaled(s_.prefill_throughput);
  if (s_.decode_tpot != 1) spec.decode.tpot_by_batch = spec.decode.tpot_by_batch.scaled(s_.decode_tpot);
  return spec;
}

void Calibrator::restore(const CalibrationState& s) {
  const double hi = 1 + c_.max_correction, lo = 1 / hi;
  s_ = s;
  s_.prefill_throughput = std::clamp(s.prefill_throughput, lo, hi);
  s_.decode_tpot = std::clamp(s.decode_tpot, lo, hi);
}

void Calibrator::observe(const PlanInput& at_load, const CalibrationWindow& w) {
  if (w.prefill_ready != last_p_ || w.decode_ready != last_d_) {
    last_p_ = w.prefill_ready;
    last_d_ = w.decode_ready;
    fleet_since_ = w.t_s;
  }
  if (!c_.enabled) {
    s_.last = "calibration is off";
    return;
  }
  if (w.prefill_ready <= 0 || w.decode_ready <= 0) {
    s_.last = "skipped: no ready replicas known";
    return;
  }
  // The fleet must have had this size over a whole window (first sight counts from here).
  if (w.t_s - fleet_since_ < c_.window_s) {
    s_.last = "skipped: the fleet changed size within the window";
    return;
  }
  if (w.completed_requests < c_.min_requests) {
    s_.last = "skipped: " + std::to_string(static_cast<long long>(w.completed_requests)) +
              " requests in the window, fewer than " + std::to_string(static_cast<long long>(c_.min_requests));
    return;
  }
  const double completions_per_s = w.completed_requests / c_.window_s;
  if (std::abs(w.requests_per_s - completions_per_s) > c_.max_imbalance * std::max(w.requests_per_s, completions_per_s)) {
    s_.last = "skipped: requests in flight were " + std::string(w.requests_per_s > completions_per_s ? "growing" : "draining") +
              " (a backlog is not the steady state the model predicts)";
    return;
  }
  if (!w.ttft_s && !w.tpot_s) {
    s_.last = "skipped: no TTFT or TPOT observed";
    return;
  }
  const double hi = 1 + c_.max_correction, lo = 1 / hi;
  auto predicted = [&](double prefill_factor, double tpot_factor) {
    PlanInput in = at_load;
    in.prefill.max_throughput = in.prefill.max_throughput.scaled(prefill_factor);
    in.decode.tpot_by_batch = in.decode.tpot_by_batch.scaled(tpot_factor);
    const Plan p = plan(in);
    return predict(in, p.d, w.prefill_ready, w.decode_ready);
  };
  auto move = [&](double current, double target) {
    return std::clamp(std::exp((1 - c_.weight) * std::log(current) + c_.weight * std::log(target)), lo, hi);
  };
  if (w.ttft_s) {
    const double f = solve([&](double x) { return predicted(x, 1).ttft_mean_s; }, *w.ttft_s, lo, hi);
    s_.prefill_throughput = move(s_.prefill_throughput, f);
  }
  if (w.tpot_s) {
    const double g = solve([&](double x) { return predicted(1, x).tpot_s; }, *w.tpot_s, lo, hi);
    s_.decode_tpot = move(s_.decode_tpot, g);
  }
  ++s_.windows;
  s_.last = "used";
}

Autoscaler::Autoscaler(PlanInput spec, AutoscalerConfig cfg)
    : spec_(std::move(spec)), cfg_(cfg), prefill_(stabilizer_config(spec_, cfg)),
      decode_(stabilizer_config(spec_, cfg)),
      calibrator_(cfg.calibration) {
  set_startup_s(cfg.startup_s);
}

StabilizerConfig Autoscaler::stabilizer_config(const PlanInput& spec, const AutoscalerConfig& cfg) {
  StabilizerConfig c = cfg.stabilizer;
  c.nearest = spec.rounding == Rounding::Nearest && !spec.slo.attainment;
  return c;
}

double Autoscaler::scale_down_window_s() const {
  const double w = cfg_.stabilizer.scale_down_window_s;
  return cfg_.window_covers_startup ? std::max(w, cfg_.startup_s) : w;
}

void Autoscaler::set_startup_s(double s) {
  cfg_.startup_s = s;
  prefill_.set_window(scale_down_window_s());
  decode_.set_window(scale_down_window_s());
}

void Autoscaler::seed_seasonal(const std::vector<std::pair<double, double>>& points,
                               const std::vector<std::pair<double, double>>& input_tokens,
                               const std::vector<std::pair<double, double>>& output_tokens) {
  for (const auto& [t, r] : points) season_.observe(t, r);
  for (const auto& [t, x] : input_tokens) season_input_.observe(t, x);
  for (const auto& [t, x] : output_tokens) season_output_.observe(t, x);
}

void Autoscaler::hold(double t_s, int current_prefill, int current_decode) {
  prefill_.apply(t_s, current_prefill, current_prefill, current_prefill);
  decode_.apply(t_s, current_decode, current_decode, current_decode);
}

namespace {

// A saved need, or the count where it is not known (saved by an older operator).
double need(double saved, int count) { return std::isfinite(saved) ? saved : static_cast<double>(count); }

}  // namespace

void Autoscaler::record(const HistoryPoint& p) {
  history_.push_back(p);
  trim_history();
}

void Autoscaler::trim_history() {
  if (history_.empty()) return;
  // Enough to cover the scale-down window and to warm the forecaster up again (its trend and
  // error spread need more than a handful of points), and no more.
  const double keep_s = std::max(scale_down_window_s(), kHistory * cfg_.interval_s);
  const double newest = history_.back().t_s;
  while (!history_.empty() && history_.front().t_s < newest - keep_s) history_.pop_front();
  if (history_.size() <= kMaxHistory) return;
  // Too many for the status: merge the points of each slot of a fixed grid (aligned to absolute
  // time, so a slot once merged stays one point and the next merge only folds new points in). A
  // merged point is as late as its latest one and as high as its highest, so the window holds at
  // least what it held, and no point outlives its window by more than a slot.
  const double slot_s = std::min(keep_s, newest - history_.front().t_s) / (kMaxHistory / 2);
  if (!(slot_s > 0)) {
    history_.erase(history_.begin(), history_.end() - kMaxHistory);  // times that do not advance
    return;
  }
  std::deque<HistoryPoint> merged;
  for (const HistoryPoint& p : history_) {
    if (!merged.empty() && std::floor(merged.back().t_s / slot_s) == std::floor(p.t_s / slot_s)) {
      HistoryPoint& m = merged.back();
      const double n = m.evaluations + p.evaluations;
      m.requests_per_s = (m.requests_per_s * m.evaluations + p.requests_per_s * p.evaluations) / n;
      m.t_s = p.t_s;
      m.prefill_need = std::max(need(m.prefill_need, m.prefill), need(p.prefill_need, p.prefill));
      m.decode_need = std::max(need(m.decode_need, m.decode), need(p.decode_need, p.decode));
      m.prefill = std::max(m.prefill, p.prefill);
      m.decode = std::max(m.decode, p.decode);
      m.evaluations += p.evaluations;
    } else {
      merged.push_back(p);
    }
  }
  history_ = std::move(merged);
}

void Autoscaler::restore(const std::vector<HistoryPoint>& h, const std::optional<CalibrationState>& c) {
  for (const auto& p : h) {
    if (!history_.empty() && p.t_s <= history_.back().t_s) continue;  // out of order: not ours
    rate_.observe(p.t_s, p.requests_per_s);
    prefill_.remember(p.t_s, p.prefill, need(p.prefill_need, p.prefill), p.evaluations > 1);
    decode_.remember(p.t_s, p.decode, need(p.decode_need, p.decode), p.evaluations > 1);
    record(p);
  }
  if (c) calibrator_.restore(*c);
}

void Autoscaler::smooth_histogram(const std::vector<std::pair<double, double>>& cumulative, double a) {
  if (cumulative.empty() || !(cumulative.back().second > 0)) return;
  const double total = cumulative.back().second;
  bool same = out_hist_.size() == cumulative.size();
  for (size_t i = 0; same && i < cumulative.size(); ++i) same = out_hist_[i].first == cumulative[i].first;
  if (!same) {
    out_hist_.clear();
    for (const auto& [bound, count] : cumulative) out_hist_.emplace_back(bound, count / total);
    return;
  }
  for (size_t i = 0; i < cumulative.size(); ++i)
    out_hist_[i].second = a * cumulative[i].second / total + (1 - a) * out_hist_[i].second;
}

Recommendation Autoscaler::step(const LoadSample& s, int current_prefill, int current_decode) {
  if (history_.empty()) {
    // A policy with no past (a new PDDeployment, or history lost): what the workloads have counts
    // as recommended now, so a scale-down waits a full window as it would after any change.
    prefill_.remember(s.t_s, current_prefill, current_prefill);
    decode_.remember(s.t_s, current_decode, current_decode);
  }
  rate_.observe(s.t_s, s.requests_per_s);
  peaks_.observe(s.t_s, s.requests_per_s);
  if (cfg_.seasonal) {
    season_.observe(s.t_s, s.requests_per_s);
    // Tokens/s at the window's own lengths (the smoothed ones where it measured none; nothing
    // before any length is known: missing, not zero).
    const double in_len = s.mean_input > 0 ? s.mean_input : mean_in_;
    const double out_len = s.mean_output > 0 ? s.mean_output : mean_out_;
    if (in_len > 0) season_input_.observe(s.t_s, s.requests_per_s * in_len);
    if (out_len > 0) season_output_.observe(s.t_s, s.requests_per_s * out_len);
  }
  // Lengths and burstiness: smoothed, and only from windows that saw requests (an idle window
  // has no lengths).
  auto smooth = [](std::optional<double>& into, const std::optional<double>& x, double a) {
    if (x) into = into ? a * *x + (1 - a) * *into : *x;
  };
  if (s.requests_per_s > 0 && s.mean_input > 0 && s.mean_output > 0) {
    const double a = have_lengths_ ? 0.3 : 1.0;
    mean_in_ = a * s.mean_input + (1 - a) * mean_in_;
    mean_out_ = a * s.mean_output + (1 - a) * mean_out_;
    if (s.input_stddev) sd_in_ = a * *s.input_stddev + (1 - a) * sd_in_;
    smooth(sd_out_, s.output_stddev, a);
    smooth_histogram(s.output_histogram, a);
    smooth(prefix_hit_, s.prefix_cache_hit_rate, 0.3);
    if (s.dispersion) {
      dispersions_.push_back(*s.dispersion);
      if (dispersions_.size() > 20) dispersions_.pop_front();
    }
    have_lengths_ = true;
  }
  // Output tokens/s of the window (at the smoothed length when it saw none).
  output_peaks_.observe(s.t_s, s.requests_per_s * (s.mean_output > 0 ? s.mean_output : mean_out_));
  Recommendation out;
  const double horizon = cfg_.startup_s + cfg_.interval_s;
  std::optional<double> decode_load;  // output tokens/s to size decode for, when not rate x mean
  double input_scale = 1;             // input lengths x this for prefill (the seasonal work forecast)
  std::optional<double> seasonal_output_length;  // decode at this output length (longer than today's)
  out.provisioned_rate = rate_.forecast(horizon, cfg_.forecast_z);
  out.method = "holt-linear forecast " + std::to_string(static_cast<int>(horizon)) + "s ahead at z=" +
               std::to_string(cfg_.forecast_z).substr(0, 4);
  if (cfg_.envelope_quantile > 0) {
    // Bursts are remembered for two horizons (one to notice, one to have the instances back),
    // and at least the scale-down window.
    const double memory = std::max(scale_down_window_s(), 2 * horizon);
    const double env = peaks_.envelope(horizon, memory, cfg_.envelope_quantile);
    if (env > out.provisioned_rate) {
      out.provisioned_rate = env;
      decode_load = output_peaks_.envelope(horizon, memory, cfg_.envelope_quantile);
      out.method = "burst envelope: the " + std::to_string(static_cast<int>(100 * cfg_.envelope_quantile)) +
                   "th percentile of the load's peaks over " + std::to_string(static_cast<int>(horizon)) +
                   "s windows in the last " + std::to_string(static_cast<int>(memory)) + "s";
    }
  }
  if (cfg_.seasonal) {
    // The same time a day before, scaled to today: what the instances asked for now will meet.
    // The busiest stretch of the same time of day, widened by a quarter of an hour each way: a
    // daily rise does not come at the same minute every day.
    const auto day = season_.forecast(s.t_s, cfg_.startup_s - 900, horizon + 900);
    if (day) {
      season_.record(s.t_s + cfg_.startup_s, *day);
      const double upper = *day * (1 + cfg_.forecast_z * season_.relative_error());
      if (upper > out.provisioned_rate) {
        out.provisioned_rate = upper;
        out.method = "seasonal forecast " + std::to_string(static_cast<int>(horizon)) +
                     "s ahead (the busiest of the same time a day before, or a week before once a week is "
                     "known, scaled by the last hour) at z=" +
                     std::to_string(cfg_.forecast_z).substr(0, 4);
      } else {
        out.method += ", above the seasonal forecast";
      }
    }
    // The work, forecast the same way: the busiest input (output) tokens/s of the same stretch
    // before over its busiest request rate is the length that stretch brought; where it is
    // longer than today's, prefill (decode) is sized at it for the provisioned rate, as a burst of
    // long requests is (the rate's margin once: the lengths' is not added on top).
    const auto in_tokens = season_input_.forecast(s.t_s, cfg_.startup_s - 900, horizon + 900);
    const auto out_tokens = season_output_.forecast(s.t_s, cfg_.startup_s - 900, horizon + 900);
    if (day && *day > 0 && have_lengths_) {
      if (in_tokens && *in_tokens / *day > mean_in_ * (1 + 1e-9)) input_scale = *in_tokens / *day / mean_in_;
      if (out_tokens && *out_tokens / *day > mean_out_ * (1 + 1e-9)) seasonal_output_length = *out_tokens / *day;
    }
  }

  // The spec at the measured load: what the window saw, for calibration and prediction.
  MeasuredLoad seen;
  seen.requests_per_s = s.requests_per_s;
  // Burstiness: the median of the last windows' estimates (one window is noisy, and a transient
  // is not the traffic's nature), never planned below Poisson (an estimate under 1 is noise more
  // often than smoother traffic).
  std::optional<double> burst;
  if (!dispersions_.empty()) {
    std::vector<double> d(dispersions_.begin(), dispersions_.end());
    std::nth_element(d.begin(), d.begin() + static_cast<long>(d.size() / 2), d.end());
    burst = std::max(1.0, d[d.size() / 2]);
  }
  if (have_lengths_) seen = {s.requests_per_s, mean_in_, mean_out_, sd_in_, prefix_hit_, burst, sd_out_, out_hist_};
  const PlanInput measured = at_load(spec_, seen);
  out.dispersion = measured.workload.arrival_dispersion;
  if (s.prefill_ready >= 0 && s.decode_ready >= 0) {
    calibrator_.observe(measured, {s.t_s, s.requests_per_s, s.completed_requests, s.ttft_s, s.tpot_s, s.prefill_ready,
                                   s.decode_ready});
    if (s.prefill_ready > 0 && s.decode_ready > 0 && s.requests_per_s > 0) {
      const PlanInput now = calibrator_.apply(measured);
      const Derivation d = plan(now).d;
      out.predicted_now = predict(now, d, s.prefill_ready, s.decode_ready);
      out.input_now = now;
      out.rate_now = d.request_rate;
      out.prefill_now = s.prefill_ready;
      out.decode_now = s.decode_ready;
    }
  }
  out.calibration = calibrator_.state();

  PlanInput in = calibrator_.apply(measured);
  in.workload.rate = out.provisioned_rate;
  out.plan = plan(in);
  out.input = in;
  // Backlog: requests already queued get the capacity to drain within one interval once the new
  // instances serve, on top of the forecast (a burst's backlog, not only its rate).
  const double drain_s = std::max(cfg_.interval_s, spec_.slo.ttft_s);
  // A queue the running prefill clears within the TTFT budget is the ordinary wait the tail
  // model already covers; only more than that is a backlog.
  const double queued_s = s.prefill_waiting * out.plan.d.service_mean_s / std::max(1, current_prefill);
  if (queued_s > std::max(0.0, out.plan.d.queue_budget_s) && out.plan.d.service_mean_s > 0) {
    // Instances asked for now serve only after the start-up time; until then the running prefill
    // works on the queue at full speed (or falls further behind). Only what is left then needs
    // the extra capacity: a backlog the fleet clears by itself before new instances could help
    // is no reason to start them.
    const double clears = std::max(1, spec_.prefill.data_parallel_size) * std::max(1, current_prefill) /
                          out.plan.d.service_mean_s;
    const double left = s.prefill_waiting + (s.requests_per_s - clears) * cfg_.startup_s;
    out.backlog_rate = left > 0 ? left / drain_s : 0;
  }
  const double decode_backlog = s.decode_waiting / drain_s;
  Plan prefill_plan = out.plan, decode_plan = out.plan;
  // Prefill at the forecast input length (decode's arrivals stay those of the plan at today's).
  PlanInput prefill_in = in;
  if (input_scale > 1 && out.plan.feasible) {
    prefill_in.workload.input_length *= input_scale;
    if (prefill_in.workload.input_length_stddev) *prefill_in.workload.input_length_stddev *= input_scale;
    for (auto& b : prefill_in.workload.input_length_distribution) b.length *= input_scale;
    const Plan longer = plan(prefill_in);
    if (longer.feasible) {
      prefill_plan = longer;
      out.method += "; prefill at the seasonal forecast of input tokens/s";
    } else {
      prefill_in = in;
    }
  }
  // Decode at the decode load's own envelope: the provisioned rate with the output length that
  // makes its output tokens/s that envelope (never longer than the smoothed length: a burst of
  // long answers still shows in the request rate's envelope); longer where the seasonal forecast
  // of output tokens/s asks for more than either.
  PlanInput decode_in = in;
  if (out.provisioned_rate > 0 && mean_out_ > 0) {
    double len = in.workload.output_length;
    std::string why;
    if (decode_load) {
      len = std::clamp(*decode_load / out.provisioned_rate, 1.0, in.workload.output_length);
      why = "; decode at the envelope of output tokens/s";
    }
    if (seasonal_output_length && *seasonal_output_length > len) {
      len = *seasonal_output_length;
      why = "; decode at the seasonal forecast of output tokens/s";
    }
    if (std::abs(len - in.workload.output_length) > 1e-9 * in.workload.output_length) {
      decode_in.workload.output_length = len;
      // The measured histogram: re-placed inside its buckets for a shorter mean, stretched as a
      // whole for a longer one (inside today's buckets the mean could not grow past them).
      const double stretch = len / in.workload.output_length;
      // The spread stays (a shorter mean) or grows with the mean (a longer one): the wider of the two.
      if (decode_in.workload.output_length_stddev && stretch > 1) *decode_in.workload.output_length_stddev *= stretch;
      if (!decode_in.workload.output_length_distribution.empty()) {
        if (stretch < 1) decode_in.workload.output_length_distribution = lengths_from_histogram(out_hist_, len);
        else
          for (auto& b : decode_in.workload.output_length_distribution) b.length *= stretch;
      }
      decode_plan = plan(decode_in);
      if (!decode_plan.feasible) decode_plan = out.plan;
      else out.method += why;
    }
  }
  if (out.plan.feasible && (out.backlog_rate > 0 || decode_backlog > 0)) {
    const Plan prefill_before = prefill_plan, decode_before = decode_plan;
    if (out.backlog_rate > 0) {
      prefill_in.workload.rate = out.provisioned_rate + out.backlog_rate;
      prefill_plan = plan(prefill_in);
    }
    if (decode_backlog > 0) {
      decode_in.workload.rate = out.provisioned_rate + decode_backlog;
      decode_plan = plan(decode_in);
    }
    if (!prefill_plan.feasible) prefill_plan = prefill_before;
    if (!decode_plan.feasible) decode_plan = decode_before;
    out.method += ", with the queued requests drained within " + std::to_string(static_cast<int>(drain_s)) + "s";
  }
  // Under a GPU budget the two counts are split together: where the roles planned apart (at
  // their own lengths and backlogs) go over it, one plan with both, or else the plan at today's.
  if (out.plan.feasible && spec_.max_total_gpus &&
      prefill_plan.prefill.gpus + decode_plan.decode.gpus > *spec_.max_total_gpus) {
    PlanInput both = prefill_in;
    both.workload.rate = std::max(prefill_in.workload.rate, decode_in.workload.rate);
    both.workload.output_length = decode_in.workload.output_length;
    both.workload.output_length_stddev = decode_in.workload.output_length_stddev;
    both.workload.output_length_distribution = decode_in.workload.output_length_distribution;
    const Plan joint = plan(both);
    prefill_plan = decode_plan = joint.feasible ? joint : out.plan;
    out.method += "; both roles planned together under scaling.maxTotalGpus";
  }
  if (!out.plan.feasible) {
    out.prefill = current_prefill;
    out.decode = current_decode;
    record({s.t_s, s.requests_per_s, current_prefill, current_decode, static_cast<double>(current_prefill),
            static_cast<double>(current_decode)});
    return out;
  }
  record({s.t_s, s.requests_per_s, prefill_plan.prefill.replicas, decode_plan.decode.replicas,
          prefill_plan.d.prefill_exact, decode_plan.d.decode_exact});
  out.prefill = prefill_.apply(s.t_s, prefill_plan.prefill.replicas, prefill_plan.d.prefill_exact, current_prefill);
  out.decode = decode_.apply(s.t_s, decode_plan.decode.replicas, decode_plan.d.decode_exact, current_decode);
  return out;
}

}  // namespace pdscaler::planner
