#include "pdscaler/sim/references.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <optional>

#include "pdscaler/planner/plan.h"

namespace pdscaler::sim {
namespace {

using planner::PlanInput;

// The load between two times as the planner sees it: the peak rate over sub-windows, and the mean
// lengths (and input spread) of the requests in it.
planner::MeasuredLoad window_load(const std::deque<Request>& reqs, double from, double to, double sub_s) {
  planner::MeasuredLoad m;
  const double span = std::max(1e-9, to - from);
  const double sub = std::min(sub_s, span);
  double in = 0, in_sq = 0, out = 0, out_sq = 0;
  size_t n = 0, lo = 0;
  double peak = 0;
  std::vector<double> arrivals;
  std::vector<int> counts;  // per output-length bucket
  for (const auto& r : reqs) {
    if (r.arrival_s < from) continue;
    if (r.arrival_s > to) break;
    arrivals.push_back(r.arrival_s);
    in += r.input_tokens;
    in_sq += static_cast<double>(r.input_tokens) * r.input_tokens;
    out += r.output_tokens;
    out_sq += static_cast<double>(r.output_tokens) * r.output_tokens;
    if (counts.empty()) counts.assign(output_length_bounds().size(), 0);
    ++counts[output_length_bucket(r.output_tokens)];
    ++n;
  }
  // The most arrivals in any sub-window [t, t + sub) within [from, to].
  for (size_t hi = 0; hi < arrivals.size(); ++hi) {
    while (arrivals[lo] <= arrivals[hi] - sub) ++lo;
    peak = std::max(peak, static_cast<double>(hi - lo + 1));
  }
  m.requests_per_s = peak / sub;
  // The arrivals' dispersion over 1 s bins, as the policies measure it.
  if (!arrivals.empty() && span >= 3) {
    std::vector<int> bins(static_cast<size_t>(span), 0);
    for (double t : arrivals) bins[std::min(bins.size() - 1, static_cast<size_t>(t - from))] += 1;
    m.dispersion = count_dispersion(bins);
  }
  if (n > 0) {
    m.mean_input = in / static_cast<double>(n);
    m.mean_output = out / static_cast<double>(n);
    m.input_stddev = std::sqrt(std::max(0.0, in_sq / static_cast<double>(n) - m.mean_input * m.mean_input));
    m.output_stddev = std::sqrt(std::max(0.0, out_sq / static_cast<double>(n) - m.mean_output * m.mean_output));
    m.output_histogram = cumulative_output_histogram(counts);
  }
  return m;
}

Target need(const PlanInput& model, const planner::MeasuredLoad& load) {
  if (load.requests_per_s <= 0) return {model.prefill.min_replicas, model.decode.min_replicas};
  const planner::Plan p = planner::plan(planner::at_load(model, load));
  if (!p.feasible) return {model.prefill.max_replicas, model.decode.max_replicas};
  return {p.prefill.replicas, p.decode.replicas};
}

// The most either role needs over [from, to]: each sub-window (half overlapping) planned at its
// own rate, lengths and burstiness, so a burst of long prompts is sized as what it is.
Target peak_need(const PlanInput& model, const std::deque<Request>& reqs, double from, double to, double sub_s) {
  const double span = std::max(1e-9, to - from), sub = std::min(sub_s, span);
  Target t{0, 0};
  for (double a = from; a < to - 1e-9; a += sub / 2) {
    const double b = std::min(to, a + sub);
    const Target n = need(model, window_load(reqs, b - sub, b, sub));
    t.prefill = std::max(t.prefill, n.prefill);
    t.decode = std::max(t.decode, n.decode);
    if (b >= to) break;
  }
  return t;
}

// For a generated load the future is its rate profile: the need over a window is the most any
// segment overlapping it needs at its highest rate there, with its lengths and burstiness (each
// segment planned once per rate). Poisson or bursty noise around that rate is the tail model's.
class ProfileNeed {
 public:
  ProfileNeed(const PlanInput& m, const LoadProfile& p) : m_(m), p_(p) {
    const auto& lm = p.lengths;
    in_ = lm.mean_input;
    out_ = lm.mean_output;
    if (lm.kind == LengthModel::Kind::Lognormal) {
      cv_in_ = lm.cv_input;
      cv_out_ = lm.cv_output;
    }
  }
  Target over(double from, double to) {
    Target t{0, 0};
    for (size_t i = 0; i < p_.segments.size(); ++i) {
      const auto& g = p_.segments[i];
      if (g.end_s <= from || g.start_s >= to) continue;
      const double a = std::max(from, g.start_s), b = std::min(to, g.end_s);
      const double span = g.end_s - g.start_s;
      auto rate = [&](double x) { return span > 0 ? g.rate_start + (g.rate_end - g.rate_start) * (x - g.start_s) / span : g.rate_start; };
      const double r = std::max(rate(a), rate(b));
      const auto key = std::make_pair(i, std::llround(r * 1000));
      auto it = cache_.find(key);
      if (it == cache_.end()) {
        planner::MeasuredLoad l;
        l.requests_per_s = r;
        l.mean_input = g.mean_input > 0 ? g.mean_input : in_;
        l.mean_output = g.mean_output > 0 ? g.mean_output : out_;
        l.input_stddev = cv_in_ * l.mean_input;
        l.output_stddev = cv_out_ * l.mean_output;
        l.dispersion = g.dispersion;
        it = cache_.emplace(key, need(m_, l)).first;
      }
      t.prefill = std::max(t.prefill, it->second.prefill);
      t.decode = std::max(t.decode, it->second.decode);
    }
    return t;
  }

 private:
  const PlanInput& m_;
  const LoadProfile& p_;
  double in_ = 0, out_ = 0, cv_in_ = 0, cv_out_ = 0;
  std::map<std::pair<size_t, long long>, Target> cache_;
};

class ClairvoyantPolicy final : public Policy {
 public:
  ClairvoyantPolicy(const PlanInput& m, std::shared_ptr<const Load> load, ClairvoyantConfig c)
      : m_(m), load_(std::move(load)), c_(c) {
    if (load_->profile()) {
      profile_.emplace(m_, *load_->profile());
    } else {
      reader_ = load_->read();
      have_ = reader_->next(next_);
    }
  }
  std::string name() const override { return "clairvoyant"; }
  double interval_s() const override { return c_.interval_s; }

  Target decide(const WindowStats& w) override {
    const double now = w.now_s;
    if (profile_) {
      const Target up = profile_->over(now + c_.cold_start_s, now + c_.cold_start_s + c_.interval_s);
      const Target hold = profile_->over(now, now + c_.cold_start_s + c_.interval_s);
      const int cur_p = w.prefill_ready + w.prefill_starting, cur_d = w.decode_ready + w.decode_starting;
      return {std::max(up.prefill, std::min(cur_p, hold.prefill)), std::max(up.decode, std::min(cur_d, hold.decode))};
    }
    read_until(now + c_.cold_start_s + c_.interval_s);
    while (!ahead_.empty() && ahead_.front().arrival_s < now) ahead_.pop_front();
    // What new instances asked for now will meet, and what the running ones meet until then.
    const Target up = peak_need(m_, ahead_, now + c_.cold_start_s, now + c_.cold_start_s + c_.interval_s, c_.sub_window_s);
    const Target hold = peak_need(m_, ahead_, now, now + c_.cold_start_s + c_.interval_s, c_.sub_window_s);
    const int cur_p = w.prefill_ready + w.prefill_starting, cur_d = w.decode_ready + w.decode_starting;
    return {std::max(up.prefill, std::min(cur_p, hold.prefill)), std::max(up.decode, std::min(cur_d, hold.decode))};
  }

 private:
  void read_until(double t) {
    while (have_ && next_.arrival_s <= t) {
      ahead_.push_back(next_);
      have_ = reader_->next(next_);
    }
  }

  PlanInput m_;
  std::shared_ptr<const Load> load_;
  std::optional<ProfileNeed> profile_;
  std::unique_ptr<LoadReader> reader_;
  ClairvoyantConfig c_;
  Request next_;
  bool have_ = false;
  std::deque<Request> ahead_;
};

}  // namespace

std::unique_ptr<Policy> make_clairvoyant_policy(const PlanInput& model, std::shared_ptr<const Load> load,
                                                ClairvoyantConfig c) {
  return std::make_unique<ClairvoyantPolicy>(model, std::move(load), c);
}

Target clairvoyant_start(const PlanInput& model, const Load& load, ClairvoyantConfig c) {
  if (load.profile()) {
    ProfileNeed p(model, *load.profile());
    const Target t = p.over(0, c.cold_start_s + c.interval_s);
    return {std::max(1, t.prefill), std::max(1, t.decode)};
  }
  std::deque<Request> head;
  auto r = load.read();
  const double until = c.cold_start_s + c.interval_s;
  for (Request q; r->next(q) && q.arrival_s <= until;) head.push_back(q);
  const Target t = peak_need(model, head, 0, until, c.sub_window_s);
  return {std::max(1, t.prefill), std::max(1, t.decode)};
}

BestStatic find_best_static(const Load& load, const FleetConfig& cfg, double target,
                            const std::function<void(const std::string&)>& progress) {
  BestStatic out;
  const auto& m = cfg.model;
  std::map<std::pair<int, int>, SimResult> seen;
  auto run = [&](int p, int d) -> const SimResult& {
    auto it = seen.find({p, d});
    if (it != seen.end()) return it->second;
    FleetConfig c = cfg;
    c.initial_prefill = p;
    c.initial_decode = d;
    c.interval_s = std::max(cfg.interval_s, 60.0);  // a fixed fleet: ticks only sample the timeline
    StaticPolicy s(p, d, "best-static");
    SimResult r = simulate(load, c, s);
    out.tried.push_back({p, d, r.summary.feasible_attainment});
    if (progress) progress("best-static: " + std::to_string(p) + "P" + std::to_string(d) + "D " +
                           std::to_string(100 * r.summary.feasible_attainment).substr(0, 6) + "%");
    return seen.emplace(std::make_pair(p, d), std::move(r)).first->second;
  };
  auto passes = [&](int p, int d) { return run(p, d).summary.feasible_attainment >= target - 1e-12; };
  // The least n in [lo, hi] for which ok(n) holds, assuming monotonicity; hi + 1 if none.
  auto least = [](int lo, int hi, auto ok) {
    if (lo > hi || !ok(hi)) return hi + 1;
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (ok(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const int p_lo = std::max(1, m.prefill.min_replicas), p_hi = m.prefill.max_replicas;
  const int d_lo = std::max(1, m.decode.min_replicas), d_hi = m.decode.max_replicas;
  const int p_min = least(p_lo, p_hi, [&](int p) { return passes(p, d_hi); });
  if (p_min > p_hi) return out;
  const int d_min = least(d_lo, d_hi, [&](int d) { return passes(p_hi, d); });
  if (d_min > d_hi) return out;
  const int gp = m.prefill.gpus_per_replica, gd = m.decode.gpus_per_replica;
  int best_p = -1, best_d = -1, d_prev = d_hi;
  for (int p = p_min; p <= p_hi; ++p) {
    if (best_p > 0 && p * gp + d_min * gd > best_p * gp + best_d * gd) break;  // cannot be cheaper
    const int d = least(d_min, d_prev, [&](int x) { return passes(p, x); });
    if (d > d_prev) continue;
    d_prev = d;
    const int gpus = p * gp + d * gd;
    const int best_gpus = best_p > 0 ? best_p * gp + best_d * gd : 0;
    if (best_p < 0 || gpus < best_gpus ||
        (gpus == best_gpus && run(p, d).summary.feasible_attainment > run(best_p, best_d).summary.feasible_attainment)) {
      best_p = p;
      best_d = d;
    }
    if (d == d_min) break;  // more prefill cannot lower decode further
  }
  out.found = true;
  out.prefill = best_p;
  out.decode = best_d;
  out.result = run(best_p, best_d);
  out.result.summary.policy = "best-static";
  return out;
}

}  // namespace pdscaler::sim
