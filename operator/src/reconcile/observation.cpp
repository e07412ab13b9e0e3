#include "pdscaler/reconcile/observation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pdscaler::reconcile {

const char* to_string(Role r) { return r == Role::Prefill ? "prefill" : "decode"; }

PodSummary summarize_pods(const std::vector<api::Pod>& pods, api::Time now) {
  PodSummary s;
  s.read = true;
  std::vector<std::pair<api::Time, double>> ready;  // (created, start-up)
  for (const auto& p : pods) {
    if (p.metadata.deletion_timestamp) continue;
    const auto& created = p.metadata.creation_timestamp;
    if (!p.node_name.empty()) {
      ++s.scheduled;
      const auto& r = p.ready;
      if (r && r->status == api::ConditionStatus::True && created && r->last_transition_time &&
          *r->last_transition_time >= *created)
        ready.emplace_back(*created, api::seconds_between(*created, *r->last_transition_time));
      continue;
    }
    const auto& sc = p.scheduled;
    if (sc && sc->status == api::ConditionStatus::False && sc->reason == "Unschedulable") {
      const auto since = sc->last_transition_time ? sc->last_transition_time : created;
      s.unschedulable_for_s.push_back(since ? std::max(0.0, api::seconds_between(*since, now)) : 0.0);
      if (s.unschedulable_message.empty()) s.unschedulable_message = sc->message;
    }
  }
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; i < ready.size() && i < 5; ++i) s.startup_s.push_back(ready[i].second);
  return s;
}

TargetObservation observe_target(const TargetView& view, api::Time now) {
  TargetObservation t;
  t.not_found = view.not_found;
  t.error = view.error;
  if (!view.known || view.not_found) return t;
  t.read = true;
  t.spec_replicas = view.spec_replicas;
  t.ready_replicas = view.ready_replicas;
  if (view.pods_known) t.pods = summarize_pods(view.pods, now);
  else t.pods.error = view.pods_error;
  return t;
}

std::optional<double> measured_startup_s(const PodSummary& prefill, const PodSummary& decode) {
  std::optional<double> out;
  for (const PodSummary* s : {&prefill, &decode}) {
    if (s->startup_s.empty()) continue;
    std::vector<double> v = s->startup_s;
    std::sort(v.begin(), v.end());
    const double median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    out = std::max(out.value_or(0.0), median);
  }
  return out;
}

SavedLiveState saved_live_state(const api::PDDeploymentStatus& status, std::int64_t generation) {
  SavedLiveState saved;
  if (!status.metrics) return saved;
  const api::MetricsStatus& m = *status.metrics;
  const double unknown = std::numeric_limits<double>::quiet_NaN();
  for (const auto& e : m.history) {
    planner::HistoryPoint p{api::to_epoch_seconds(e.time), e.requests_per_s, e.prefill, e.decode};
    p.prefill_need = e.prefill_need && *e.prefill_need >= 0 ? *e.prefill_need : unknown;
    p.decode_need = e.decode_need && *e.decode_need >= 0 ? *e.decode_need : unknown;
    p.evaluations = e.evaluations ? std::max(1, *e.evaluations) : 1;
    saved.history.push_back(p);
  }
  const auto& c = m.calibration;
  if (c && c->generation == generation && c->prefill_throughput_factor > 0 && c->decode_tpot_factor > 0)
    saved.calibration = planner::CalibrationState{c->prefill_throughput_factor, c->decode_tpot_factor, c->windows_used,
                                                  "restored after a restart"};
  if (m.startup_s && std::isfinite(*m.startup_s) && *m.startup_s > 0 && m.startup_source &&
      startup_measured(*m.startup_source))
    saved.measured_startup_s = *m.startup_s;
  return saved;
}

Observation observe(const api::PDDeployment& pdd, const TargetView& prefill, const TargetView& decode, api::Time now) {
  Observation obs;
  obs.metadata = pdd.metadata;
  obs.spec = pdd.spec;
  obs.spec_error = pdd.spec_error;
  obs.status = pdd.status;
  obs.now = now;
  if (obs.spec) {
    obs.prefill = observe_target(prefill, now);
    obs.decode = observe_target(decode, now);
  }
  return obs;
}

std::optional<double> histogram_share_within(const std::vector<std::pair<double, double>>& cumulative, double x,
                                             const DistributionFunction& shape) {
  if (cumulative.empty()) return std::nullopt;
  const double total = cumulative.back().second;
  if (!(total > 0)) return std::nullopt;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, count] : cumulative) {
    if (!std::isfinite(bound)) break;  // beyond the last finite bound: counted above x
    if (x <= bound) {
      const double width = bound - prev_bound;
      double frac = width > 0 ? std::clamp((x - prev_bound) / width, 0.0, 1.0) : 1.0;
      if (shape && width > 0) {
        const double lo = prev_bound > 0 ? shape(prev_bound) : 0, at = shape(x), hi = shape(bound);
        if (std::isfinite(lo) && std::isfinite(at) && std::isfinite(hi) && hi - lo > 1e-9)
          frac = std::clamp((at - lo) / (hi - lo), 0.0, 1.0);
      }
      return std::clamp((prev_count + frac * std::max(0.0, count - prev_count)) / total, 0.0, 1.0);
    }
    prev_bound = bound;
    prev_count = std::max(prev_count, count);
  }
  return std::clamp(prev_count / total, 0.0, 1.0);
}

}  // namespace pdscaler::reconcile
