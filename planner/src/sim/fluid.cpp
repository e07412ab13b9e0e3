#include "pdscaler/sim/fluid.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <list>
#include <limits>
#include <random>

#include "pdscaler/planner/plan.h"
#include "pdscaler/sim/stats.h"

namespace pdscaler::sim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One second of arrivals: how many, and their token sums.
struct Second {
  double count = 0;
  double in = 0, in_sq = 0, out = 0, out_sq = 0;
};

// Arrivals per second, from a generated load's profile (drawn counts) or a trace (counted).
class Arrivals {
 public:
  Arrivals(const Load& load, uint64_t seed) : load_(load), profile_(load.profile()), rng_(seed * 0x9e3779b97f4a7c15ULL + 1) {
    if (!profile_) {
      reader_ = load.read();
      have_ = reader_->next(next_);
    } else {
      const auto& m = profile_->lengths;
      if (m.kind == LengthModel::Kind::Samples && !m.samples.empty()) {
        double a = 0, b = 0, a2 = 0, b2 = 0;
        for (const auto& [i, o] : m.samples) {
          a += i;
          b += o;
          a2 += static_cast<double>(i) * i;
          b2 += static_cast<double>(o) * o;
        }
        const double n = static_cast<double>(m.samples.size());
        base_in_ = a / n;
        base_out_ = b / n;
        cv_in_ = std::sqrt(std::max(0.0, a2 / n - base_in_ * base_in_)) / base_in_;
        cv_out_ = std::sqrt(std::max(0.0, b2 / n - base_out_ * base_out_)) / base_out_;
      } else {
        base_in_ = m.mean_input;
        base_out_ = m.mean_output;
        if (m.kind == LengthModel::Kind::Lognormal) {
          cv_in_ = m.cv_input;
          cv_out_ = m.cv_output;
        }
      }
    }
  }

  // Arrivals in [t, t + 1).
  Second at(double t) {
    Second s;
    if (profile_) {
      const double m = profile_->mass(t, t + 1);
      if (m <= 0) return s;
      const ProfileSegment* g = profile_->at(t);
      const double disp = g ? g->dispersion : 1;
      double mean = m;
      if (disp > 1 + 1e-9) mean = std::gamma_distribution<double>(m / (disp - 1), disp - 1)(rng_);
      s.count = mean > 0 ? static_cast<double>(std::poisson_distribution<long long>(mean)(rng_)) : 0;
      const double li = g && g->mean_input > 0 ? g->mean_input : base_in_;
      const double lo = g && g->mean_output > 0 ? g->mean_output : base_out_;
      s.in = s.count * li;
      s.out = s.count * lo;
      s.in_sq = s.count * li * li * (1 + cv_in_ * cv_in_);
      s.out_sq = s.count * lo * lo * (1 + cv_out_ * cv_out_);
      return s;
    }
    while (have_ && next_.arrival_s < t + 1) {
      s.count += 1;
      s.in += next_.input_tokens;
      s.in_sq += static_cast<double>(next_.input_tokens) * next_.input_tokens;
      s.out += next_.output_tokens;
      s.out_sq += static_cast<double>(next_.output_tokens) * next_.output_tokens;
      have_ = reader_->next(next_);
    }
    return s;
  }
  bool done(double t) const { return profile_ ? t >= load_.duration_s() : !have_ && t >= load_.duration_s(); }
  // The lengths' coefficients of variation, where the load generates them (negative: unknown).
  double cv_input() const { return profile_ ? cv_in_ : -1; }
  double cv_output() const { return profile_ ? cv_out_ : -1; }
  // Expected arrivals in [t, t + dt) where the load knows them (negative: only the counts).
  double expected(double t, double dt) const { return profile_ ? profile_->mass(t, t + dt) : -1; }
  double dispersion_at(double t) const {
    if (!profile_) return 1;
    const ProfileSegment* g = profile_->at(t);
    return g ? g->dispersion : 1;
  }

 private:
  const Load& load_;
  const LoadProfile* profile_;
  std::unique_ptr<LoadReader> reader_;
  Request next_;
  bool have_ = false;
  std::mt19937_64 rng_;
  double base_in_ = 0, base_out_ = 0, cv_in_ = 0, cv_out_ = 0;
};

// The tail model at one mix of lengths and burstiness, with what the steps need of it.
struct Mix {
  planner::PlanInput in;
  std::unique_ptr<planner::AttainmentModel> model;
  double service_s = 0;     // mean prefill service of one request
  double overhead_s = 0;    // mean TTFT overhead
  double feasible = 1;      // share that can meet both targets alone
  double single = 0;        // share with one output token (no decode)
  double steps = 0;         // mean decode steps of the others
};

class FluidEngine {
 public:
  FluidEngine(const Load& load, const FleetConfig& cfg, Policy& policy, int step_s, const Progress& progress)
      : load_(load), cfg_(cfg), m_(cfg.model), policy_(policy), progress_(progress), step_(std::max(1, step_s)),
        arrivals_(load, cfg.seed) {
    dp_ = std::max(1, m_.prefill.data_parallel_size);
    cap_ = m_.decode.tpot_by_batch.max_x();
    if (m_.decode.max_batch_size) cap_ = std::min(cap_, static_cast<double>(*m_.decode.max_batch_size));
    interval_ = policy.interval_s() > 0 ? policy.interval_s() : cfg.interval_s;
  }

  SimResult run() {
    for (int i = 0; i < cfg_.initial_prefill; ++i) prefill_.push_back({State::Ready, 0});
    for (int i = 0; i < cfg_.initial_decode; ++i) decode_.push_back({State::Ready, 0});
    summary_.initial_prefill = cfg_.initial_prefill;
    summary_.initial_decode = cfg_.initial_decode;
    start_window(0);
    double next_tick = interval_;
    const double stop_at = load_.duration_s() + cfg_.max_overrun_s;
    const double expected = std::max(1.0, load_.expected_requests());
    double last_progress = 0;
    for (t_ = 0; t_ < stop_at; t_ += step_) {
      const bool over = arrivals_.done(t_);
      if (over && backlog_ < 0.5 && in_decode_ < 0.5) break;
      promote();
      step();
      if (t_ + step_ >= next_tick - 1e-9) {
        tick(t_ + step_);
        next_tick += interval_;
      }
      if (progress_ && arrived_ / expected - last_progress >= 0.05) {
        last_progress = arrived_ / expected;
        progress_(std::min(1.0, last_progress));
      }
    }
    return finish();
  }

 private:
  enum class State { Starting, Ready };
  struct Inst {
    State state;
    double ready_at;
  };

  int ready(const std::vector<Inst>& v) const {
    int n = 0;
    for (const auto& i : v) n += i.state == State::Ready;
    return n;
  }
  int starting(const std::vector<Inst>& v) const { return static_cast<int>(v.size()) - ready(v); }

  void promote() {
    for (auto* v : {&prefill_, &decode_})
      for (auto& i : *v)
        if (i.state == State::Starting && i.ready_at <= t_ + 1e-9) i.state = State::Ready;
  }

  // The model at these mean lengths and this burstiness (the last few kept).
  Mix& mix(double mean_in, double mean_out, double dispersion) {
    auto close = [](double a, double b, double tol) { return std::abs(a - b) <= tol * std::max(a, b); };
    for (auto it = mixes_.begin(); it != mixes_.end(); ++it) {
      if (close(it->in.workload.input_length, mean_in, 0.01) && close(it->in.workload.output_length, mean_out, 0.01) &&
          close(it->in.workload.arrival_dispersion, dispersion, 0.02)) {
        mixes_.splice(mixes_.begin(), mixes_, it);
        return mixes_.front();
      }
    }
    Mix x;
    x.in = m_;
    auto& w = x.in.workload;
    // The spread of the lengths: the load's where it generates them, else the spec's.
    double cv_in = w.input_length > 0 && w.input_length_stddev ? *w.input_length_stddev / w.input_length : 0;
    double cv_out = w.output_length > 0 && w.output_length_stddev ? *w.output_length_stddev / w.output_length : 0;
    if (arrivals_.cv_input() >= 0) cv_in = arrivals_.cv_input();
    if (arrivals_.cv_output() >= 0) cv_out = arrivals_.cv_output();
    w.input_length_stddev.reset();
    w.output_length_stddev.reset();
    if (cv_in > 0 && x.in.prefill.queue_model == planner::QueueModel::MD1) x.in.prefill.queue_model = planner::QueueModel::MG1;
    w.input_length = mean_in;
    w.output_length = mean_out;
    w.input_length_distribution.clear();
    if (cv_in > 0) w.input_length_stddev = cv_in * mean_in;
    if (cv_out > 0) w.output_length_stddev = cv_out * mean_out;
    w.arrival_dispersion = dispersion;
    mixes_.push_front(std::move(x));
    Mix& m = mixes_.front();
    m.model = std::make_unique<planner::AttainmentModel>(m.in);
    double total = 0;
    for (const auto& c : m.model->input_classes()) {
      total += c.weight;
      m.service_s += c.weight * 0.5 * (c.service_s + c.hi_service());
      m.overhead_s += c.weight * 0.5 * (c.overhead_s + c.hi_overhead());
    }
    m.service_s /= total;
    m.overhead_s /= total;
    double out_total = 0;
    for (const auto& c : m.model->output_classes()) {
      out_total += c.weight;
      if (c.tokens <= 1) m.single += c.weight;
      m.steps += c.weight * std::max(0.0, c.tokens - 1);
    }
    m.single /= out_total;
    m.steps /= out_total;
    m.feasible = m.model->feasible_share();
    if (mixes_.size() > 32) mixes_.pop_back();
    return m;
  }

  void step() {
    Second s;
    for (int k = 0; k < step_; ++k) {
      const Second x = arrivals_.at(t_ + k);
      s.count += x.count;
      s.in += x.in;
      s.in_sq += x.in_sq;
      s.out += x.out;
      s.out_sq += x.out_sq;
      const double offset = t_ + k - win_start_;
      const auto bin = static_cast<size_t>(std::max(0.0, offset / cfg_.bin_s));
      if (!win_.arrival_bins.empty()) win_.arrival_bins[std::min(bin, win_.arrival_bins.size() - 1)] += static_cast<int>(x.count);
    }
    if (s.count > 0) {
      mean_in_ = s.in / s.count;
      mean_out_ = s.out / s.count;
    }
    const double a = s.count;
    arrived_ += a;
    const double dt = step_;
    Mix& x = mix(std::max(1.0, mean_in_), std::max(1.0, mean_out_), arrivals_.dispersion_at(t_));

    // Prefill: a pooled fluid queue, driven by the expected arrivals (their second-to-second
    // spread is the tail model's to judge; the fluid backlog is for sustained overload).
    const int p = ready(prefill_);
    const double capacity = p > 0 ? p * dp_ / x.service_s : 0;  // requests per second
    const double expected = arrivals_.expected(t_, dt);
    const double drive = expected >= 0 ? expected : a;
    const double served = std::min(backlog_ + drive, capacity * dt);
    const double backlog_end = backlog_ + drive - served;
    const double delay = capacity > 0 ? 0.5 * (backlog_ + backlog_end) / capacity : kInf;
    const double lambda = capacity > 0 ? std::min(drive / dt, 0.995 * capacity) : 0;
    double ttft_share = 0, wait_s = 0;
    if (p > 0 && std::isfinite(delay)) {
      const planner::WaitTail w = x.model->wait(lambda, p);
      wait_s = w.mean_wait_s;
      const auto& cls = x.model->input_classes();
      const double can = planner::ttft_feasible_share(cls, m_.slo.ttft_s);
      const double target = m_.slo.ttft_s - delay;
      if (can > 0 && target > 0)
        ttft_share = planner::ttft_attainment(w, cls, target) * planner::ttft_feasible_share(cls, target) / can;
    }
    backlog_ = backlog_end;

    // Decode: a fluid occupancy.
    const int d = ready(decode_);
    const double inflow = served * (1 - x.single);
    double tpot_share = 0, step_time = m_.decode.tpot_by_batch.at(1).value;
    double outflow = 0;
    double next_in_decode = in_decode_ + inflow;
    if (d > 0) {
      const double batch = in_decode_ / d;
      step_time = m_.decode.tpot_by_batch.at(std::max(1.0, std::min(cap_, batch + 1))).value;
      const double life = std::max(1e-9, x.steps * step_time);
      // Over the step, requests arrive at inflow / dt and leave at 1 / life each (solved over the
      // step, so a life shorter than the step is right too).
      const double keep = std::exp(-dt / life);
      next_in_decode = in_decode_ * keep + inflow / dt * life * (1 - keep);
      outflow = std::max(0.0, in_decode_ + inflow - next_in_decode);
      const double held = std::min(next_in_decode, d * cap_);
      tpot_share = x.model->tpot(held / life, d, p);
      // Requests beyond the batch slots wait, and those miss TPOT.
      if (next_in_decode > held) tpot_share *= held / next_in_decode;
    }
    in_decode_ = std::max(0.0, next_in_decode);
    const double tokens = outflow * x.steps;

    // This step's arrivals, judged by the state they meet.
    const double feasible = a * x.feasible;
    const double both = ttft_share * (x.single + (1 - x.single) * tpot_share);
    met_ += feasible * both;
    win_feasible_ += feasible;
    win_met_ += feasible * both;
    ttft_ok_ += feasible * ttft_share;
    tpot_ok_ += feasible * (x.single + (1 - x.single) * tpot_share);
    feasible_ += feasible;
    good_tokens_ += feasible * both * (mean_in_ + mean_out_);
    const double ttft_mean = wait_s + x.service_s + x.overhead_s + (std::isfinite(delay) ? delay : 0);
    if (a > 0) {
      ttft_sum_ += a * ttft_mean;
      tpot_sum_ += a * step_time;
      weight_ += a;
    }
    const double held = static_cast<double>(prefill_.size()) * m_.prefill.gpus_per_replica +
                        static_cast<double>(decode_.size()) * m_.decode.gpus_per_replica;
    gpu_seconds_ += held * dt;
    prefill_time_ += static_cast<double>(prefill_.size()) * dt;
    decode_time_ += static_cast<double>(decode_.size()) * dt;

    // The policy's window.
    win_.arrivals += static_cast<int>(a);
    win_.input_tokens += s.in;
    win_.input_tokens_sq += s.in_sq;
    win_.output_tokens += s.out;
    win_.output_tokens_sq += s.out_sq;
    win_.prefill_work_s += a * x.service_s;
    win_.first_tokens += static_cast<int>(served);
    win_.ttft_sum += served * ttft_mean;
    win_.ttft_met += static_cast<int>(served * ttft_share);
    win_.finished += static_cast<int>(outflow);
    win_.tpot_sum += outflow * step_time;
    win_.tpot_met += static_cast<int>(outflow * tpot_share);
    win_tokens_ += tokens;
    win_load_ += s.in + s.out;
    last_ttft_ = ttft_mean;
    last_step_time_ = step_time;
    last_wait_queue_ = lambda * wait_s;
    last_service_ = x.service_s;
  }

  void start_window(double at) {
    win_ = WindowStats{};
    win_start_ = at;
    win_.arrival_bins.assign(static_cast<size_t>(std::clamp(std::ceil(interval_ / cfg_.bin_s - 1e-9), 1.0, 3600.0)), 0);
    win_tokens_ = 0;
    win_load_ = 0;
  }

  void tick(double now) {
    WindowStats w = std::move(win_);
    w.now_s = now;
    w.window_s = now - win_start_;
    w.load_end_s = load_.duration_s();
    const int p = ready(prefill_), d = ready(decode_);
    w.prefill_ready = p;
    w.prefill_starting = starting(prefill_);
    w.decode_ready = d;
    w.decode_starting = starting(decode_);
    // Queued: the backlog, and the stationary queue the tail model expects.
    w.prefill_waiting = static_cast<int>(backlog_ + last_wait_queue_);
    w.prefill_backlog_s = (backlog_ + last_wait_queue_) * last_service_;
    const double held = std::min(in_decode_, d * cap_);
    w.decode_running = static_cast<int>(held);
    w.decode_waiting = static_cast<int>(in_decode_ - held);
    for (int i = 0; i < p; ++i)
      w.prefill_instances.push_back({true, w.prefill_backlog_s / p / std::max(1e-9, last_service_) * mean_in_,
                                     w.first_tokens / p, w.ttft_sum / p});
    for (int i = 0; i < d; ++i)
      w.decode_instances.push_back({true, static_cast<int>(held / d), static_cast<int>((in_decode_ - held) / d),
                                    held / d * (mean_in_ + mean_out_ / 2), win_tokens_ / d, win_tokens_ / d * last_step_time_});

    Sample smp;
    smp.t_s = now;
    smp.load_tokens_per_s = win_load_ / std::max(1e-9, w.window_s);
    smp.prefill = static_cast<int>(prefill_.size());
    smp.decode = static_cast<int>(decode_.size());
    smp.prefill_ready = p;
    smp.decode_ready = d;
    smp.ttft_p50 = smp.ttft_p90 = w.first_tokens > 0 ? w.ttft_sum / w.first_tokens : 0;
    smp.tpot_p50 = smp.tpot_p90 = last_step_time_;
    smp.attainment = win_feasible_ > 0 ? win_met_ / win_feasible_ : -1;
    win_feasible_ = win_met_ = 0;
    timeline_.push_back(smp);
    max_prefill_ = std::max(max_prefill_, smp.prefill);
    max_decode_ = std::max(max_decode_, smp.decode);
    start_window(now);

    Target t = policy_.decide(w);
    t.prefill = std::clamp(t.prefill, m_.prefill.min_replicas, m_.prefill.max_replicas);
    t.decode = std::clamp(t.decode, m_.decode.min_replicas, m_.decode.max_replicas);
    if (!arrivals_.done(now) || backlog_ > 0 || in_decode_ > 0) {
      t.prefill = std::max(t.prefill, 1);
      t.decode = std::max(t.decode, 1);
    }
    resize(prefill_, t.prefill, now);
    resize(decode_, t.decode, now);
  }

  // Up: start new instances. Down: cancel the newest starting ones, then remove ready ones (their
  // work stays with the others: the queue and the occupancy are pooled).
  void resize(std::vector<Inst>& v, int want, double now) {
    while (static_cast<int>(v.size()) < want) v.push_back({State::Starting, now + cfg_.cold_start_s});
    for (size_t i = v.size(); i-- > 0 && static_cast<int>(v.size()) > want;)
      if (v[i].state == State::Starting) v.erase(v.begin() + static_cast<long>(i));
    while (static_cast<int>(v.size()) > want) v.pop_back();
  }

  SimResult finish() {
    SimResult out;
    Summary& s = summary_;
    s.policy = policy_.name();
    s.requests = static_cast<size_t>(std::llround(arrived_));
    s.completed = s.requests;
    s.slo_met = static_cast<size_t>(std::llround(met_));
    s.feasible = static_cast<size_t>(std::llround(feasible_));
    s.feasible_met = s.slo_met;
    s.slo_attainment = arrived_ > 0 ? met_ / arrived_ : 0;
    s.feasible_attainment = feasible_ > 0 ? met_ / feasible_ : 0;
    s.infeasible_share = arrived_ > 0 ? 1 - feasible_ / arrived_ : 0;
    s.ttft_attainment = arrived_ > 0 ? ttft_ok_ / arrived_ : 0;
    s.tpot_attainment = arrived_ > 0 ? tpot_ok_ / arrived_ : 0;
    s.duration_s = t_;
    s.goodput_tokens_per_s = t_ > 0 ? good_tokens_ / t_ : 0;
    s.gpu_hours = gpu_seconds_ / 3600;
    s.goodput_tokens_per_gpu_hour = s.gpu_hours > 0 ? good_tokens_ / s.gpu_hours : 0;
    // Means only: a fluid run has no per-request distribution to take percentiles of.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.ttft = {weight_ > 0 ? ttft_sum_ / weight_ : 0, nan, nan, nan, nan};
    s.tpot = {weight_ > 0 ? tpot_sum_ / weight_ : 0, nan, nan, nan, nan};
    s.e2e = {nan, nan, nan, nan, nan};
    s.mean_prefill = t_ > 0 ? prefill_time_ / t_ : 0;
    s.mean_decode = t_ > 0 ? decode_time_ / t_ : 0;
    s.max_prefill = max_prefill_;
    s.max_decode = max_decode_;
    out.summary = s;
    out.timeline = std::move(timeline_);
    return out;
  }

  const Load& load_;
  const FleetConfig& cfg_;
  const planner::PlanInput& m_;
  Policy& policy_;
  const Progress& progress_;
  int step_;
  Arrivals arrivals_;
  int dp_ = 1;
  double cap_ = 1;
  double interval_ = 15;
  double t_ = 0;
  std::vector<Inst> prefill_, decode_;
  std::list<Mix> mixes_;
  double mean_in_ = 1, mean_out_ = 1;
  double backlog_ = 0, in_decode_ = 0;
  double arrived_ = 0, met_ = 0, feasible_ = 0, ttft_ok_ = 0, tpot_ok_ = 0, good_tokens_ = 0;
  double ttft_sum_ = 0, tpot_sum_ = 0, weight_ = 0;
  double gpu_seconds_ = 0, prefill_time_ = 0, decode_time_ = 0;
  double last_ttft_ = 0, last_step_time_ = 0, last_wait_queue_ = 0, last_service_ = 1;
  int max_prefill_ = 0, max_decode_ = 0;
  WindowStats win_;
  double win_start_ = 0, win_tokens_ = 0, win_load_ = 0, win_feasible_ = 0, win_met_ = 0;
  std::vector<Sample> timeline_;
  Summary summary_;
};

}  // namespace

SimResult simulate_fluid(const Load& load, const FleetConfig& cfg, Policy& policy, const Progress& progress) {
  FluidEngine e(load, cfg, policy, cfg.fluid_step_s, progress);
  return e.run();
}

}  // namespace pdscaler::sim
