#include "pdscaler/reconcile/decide.h"

#include <algorithm>
#include <cmath>

#include "pdscaler/reconcile/conditions.h"
#include "text.h"

namespace pdscaler::reconcile {
namespace {

std::optional<int> old_applied(const Observation& obs, Role r) {
  const auto& rs = r == Role::Prefill ? obs.status.prefill : obs.status.decode;
  return rs ? rs->applied_replicas : std::nullopt;
}

const TargetObservation& target(const Observation& obs, Role r) { return r == Role::Prefill ? obs.prefill : obs.decode; }

const api::ScaleTargetRef& target_ref(const api::PDDeploymentSpec& d, Role r) {
  return r == Role::Prefill ? d.prefill_target : d.decode_target;
}

std::string target_text(const api::ScaleTargetRef& t) { return t.kind + "/" + t.name; }

std::string notation(int p, int d) { return std::to_string(p) + "P" + std::to_string(d) + "D"; }

RoleIntent intend_role(const Observation& obs, Role r, int desired, bool auto_mode, bool yielded_now,
                       api::OverridePolicy policy, bool& yield_out) {
  RoleIntent ri;
  ri.desired = desired;
  const TargetObservation& t = target(obs, r);
  const auto applied = old_applied(obs, r);
  if (!auto_mode || !t.read) {
    ri.applied = auto_mode ? applied : std::nullopt;
    return ri;
  }
  if (yielded_now) {
    ri.applied = applied;
    return ri;
  }
  if (applied && t.spec_replicas != *applied) {
    ri.override_detected = true;
    ri.override_value = t.spec_replicas;
    if (policy == api::OverridePolicy::Yield) {
      yield_out = true;
      ri.applied = t.spec_replicas;  // the new baseline, so a later spec change is not an override
      return ri;
    }
  }
  if (t.spec_replicas != desired) ri.write = desired;
  ri.applied = desired;
  return ri;
}

// Pods Pending for lack of GPUs longer than spec.scaling.pendingTimeout: plan within the GPUs that
// were schedulable (the planner's budget split, for the most goodput) until the retry interval
// has passed, then try the unconstrained plan again.
void apply_capacity(const Observation& obs, Intent& in) {
  const api::PDDeploymentSpec& d = *obs.spec;
  const int gp = d.plan.prefill.gpus_per_replica, gd = d.plan.decode.gpus_per_replica;
  in.unconstrained_gpus = in.plan->prefill.replicas * gp + in.plan->decode.replicas * gd;
  std::optional<CapacityLimit> rec;
  if (const auto& c = obs.status.capacity) rec = CapacityLimit{c->gpus, c->since, c->message, c->wanted_gpus};
  if (rec && api::seconds_between(rec->since, obs.now) >= d.capacity_retry_s) rec.reset();

  const PodSummary &pp = obs.prefill.pods, &dp = obs.decode.pods;
  if (pp.read && dp.read) {
    // Stuck pods are new evidence unless they were already stuck when the limit was recorded
    // (those are on their way out as the workloads shrink to the limit).
    const double record_age = rec ? api::seconds_between(rec->since, obs.now) : 1e18;
    int stuck_p = 0, stuck_d = 0;
    for (double a : pp.unschedulable_for_s) stuck_p += a >= d.pending_timeout_s && a < record_age;
    for (double a : dp.unschedulable_for_s) stuck_d += a >= d.pending_timeout_s && a < record_age;
    if (stuck_p + stuck_d > 0) {
      const std::string why = pp.unschedulable_message.empty() ? dp.unschedulable_message : pp.unschedulable_message;
      rec = CapacityLimit{pp.scheduled * gp + dp.scheduled * gd, api::whole_seconds(obs.now),
                          std::to_string(stuck_p) + " prefill and " + std::to_string(stuck_d) +
                              " decode pods unschedulable for over " + api::format_duration(d.pending_timeout_s) +
                              (why.empty() ? "" : " (" + why + ")"),
                          in.unconstrained_gpus};
      in.capacity_new = true;
    }
  }
  in.capacity = rec;
  if (!rec || in.unconstrained_gpus <= rec->gpus) return;
  planner::PlanInput limited =
      (obs.live && obs.live->available && obs.live->recommendation) ? obs.live->recommendation->input : d.plan;
  limited.max_total_gpus = std::min(limited.max_total_gpus.value_or(rec->gpus), rec->gpus);
  planner::Plan p = planner::plan(limited);
  if (p.feasible) in.plan = std::move(p);
}

api::Decision decision_of(const api::PDDeploymentSpec& d, const planner::Plan& p) {
  api::Decision out;
  out.plan = p.notation;
  out.feasible = p.feasible;
  out.meets_slo = p.meets_slo;
  const auto& x = p.d;
  out.inputs = {x.total_tokens_per_s,
                x.request_rate,
                x.input_length,
                x.output_length,
                api::format_duration(d.plan.slo.ttft_s),
                api::format_duration(d.plan.slo.tpot_s),
                d.plan.slo.ttft_percentile};
  for (const auto& q : planner::explain(p))
    out.explanation[q.name] = std::isfinite(q.value) ? std::optional<double>(q.value) : std::nullopt;
  return out;
}

api::RoleStatus role_status(const RoleIntent& ri, const TargetObservation& t, int gpus_per_replica) {
  return {ri.desired,
          t.spec_replicas,
          t.ready_replicas,
          ri.desired * gpus_per_replica,
          std::to_string(t.ready_replicas) + "/" + std::to_string(ri.desired),
          ri.applied};
}

std::optional<double> finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

api::MetricsStatus metrics_status(const LiveLoad& l, const Observation& obs) {
  api::MetricsStatus m;
  m.available = l.available;
  m.consecutive_failures = l.failures;
  m.last_evaluation = l.evaluated_at;
  if (l.recommendation) {
    const ObservedLoad& o = l.observed;
    m.requests_per_s = o.requests_per_s;
    m.completions_per_s = o.completions_per_s;
    m.mean_input_length = o.mean_input;
    m.mean_output_length = o.mean_output;
    m.observed_ttft_s = o.ttft_s;
    m.observed_tpot_s = o.tpot_s;
    m.observed_ttft_at_percentile_s = o.ttft_at_percentile_s;
    m.prefix_cache_hit_rate = o.prefix_hit_rate;
    m.input_length_stddev = o.input_stddev;
    m.output_length_stddev = o.output_stddev;
    m.arrival_dispersion = o.arrival_dispersion;
    m.planned_arrival_dispersion = l.recommendation->dispersion;
    m.prefill_waiting = o.prefill_waiting;
    m.decode_waiting = o.decode_waiting;
    if (l.recommendation->backlog_rate > 0) m.backlog_requests_per_s = l.recommendation->backlog_rate;
    if (obs.spec) {
      const auto& slo = obs.spec->plan.slo;
      m.attainment_target = slo.attainment;
      auto percent = [](std::optional<double> x) { return x ? std::optional<double>(100 * *x) : std::nullopt; };
      // Inside the bucket that holds a target, the engines' counts are split by the model's
      // distribution for the fleet that served the window (a 20 ms target inside vLLM's 10-25 ms
      // TPOT bucket read linearly says two thirds whatever the requests did). SGLang's and
      // Dynamo's TPOT histograms count inter-token gaps, not requests: linear there.
      const bool per_request_tpot = obs.spec->metrics && obs.spec->metrics->engine == api::Engine::Vllm;
      const auto& r = *l.recommendation;
      std::optional<planner::AttainmentModel> model;  // only where there is a histogram to read
      if (r.input_now && (!o.ttft_histogram.empty() || !o.tpot_histogram.empty())) model.emplace(*r.input_now);
      DistributionFunction ttft_shape, tpot_shape;
      if (model) {
        ttft_shape = [&](double t) { return model->ttft_within(r.rate_now, r.prefill_now, t); };
        if (per_request_tpot)
          tpot_shape = [&](double t) { return model->tpot_within(r.rate_now, r.decode_now, r.prefill_now, t); };
      }
      m.observed_ttft_share = percent(histogram_share_within(o.ttft_histogram, slo.ttft_s, ttft_shape));
      m.observed_tpot_share = percent(histogram_share_within(o.tpot_histogram, slo.tpot_s, tpot_shape));
      if (m.observed_tpot_share) m.observed_tpot_share_of = per_request_tpot ? "requests" : "inter-token gaps";
    }
    if (o.decode_running && obs.decode.read && obs.decode.ready_replicas > 0)
      m.observed_decode_batch = *o.decode_running / obs.decode.ready_replicas;
    m.provisioned_requests_per_s = l.recommendation->provisioned_rate;
    m.forecast = l.recommendation->method;
    if (const auto& pn = l.recommendation->predicted_now) {
      m.predicted_ttft_s = finite(pn->ttft_mean_s);
      m.predicted_tpot_s = finite(pn->tpot_s);
      m.predicted_ttft_share = 100 * pn->ttft_attainment;
      m.predicted_tpot_share = 100 * pn->tpot_attainment;
      m.predicted_attainment = 100 * pn->attainment;
    }
    const auto& c = l.recommendation->calibration;
    m.calibration = api::CalibrationStatus{c.prefill_throughput, c.decode_tpot, c.windows,
                                           c.last.empty() ? "none yet" : c.last, l.generation};
  }
  for (const auto& h : l.history) {
    api::HistoryEntry e;
    e.time = api::whole_seconds(api::from_epoch_seconds(h.t_s));
    e.requests_per_s = h.requests_per_s;
    e.prefill = h.prefill;
    e.decode = h.decode;
    if (std::isfinite(h.prefill_need)) e.prefill_need = h.prefill_need;
    if (std::isfinite(h.decode_need)) e.decode_need = h.decode_need;
    if (h.evaluations > 1) e.evaluations = h.evaluations;
    m.history.push_back(e);
  }
  if (!l.startup_source.empty()) {
    m.startup_s = l.startup_s;
    m.startup_source = l.startup_source;
  }
  return m;
}

// True when the old Ready condition already said this (so the event was already recorded).
bool already_said(const api::PDDeploymentStatus& st, const std::string& reason, const std::string& message) {
  const api::Condition* c = api::find_condition(st, "Ready");
  return c && c->reason == reason && c->message == message;
}

}  // namespace

Intent intend(const Observation& obs) {
  Intent in;
  if (!obs.spec) return in;
  in.valid = true;
  const api::PDDeploymentSpec& d = *obs.spec;
  in.plan = planner::plan(d.plan);
  // Live load: the recommendation of the last good measurement; with none yet, or while metrics
  // are missing, hold what the workloads have (never scale on missing data).
  std::optional<std::pair<int, int>> live_counts;
  if (obs.live) {
    if (obs.live->available && obs.live->recommendation) {
      in.plan = obs.live->recommendation->plan;
      live_counts = {obs.live->recommendation->prefill, obs.live->recommendation->decode};
    } else if (obs.prefill.read && obs.decode.read) {
      live_counts = {obs.prefill.spec_replicas, obs.decode.spec_replicas};
      // Metrics missing for long enough: the declared fallback, never below what runs now.
      const auto& fb = d.metrics ? d.metrics->fallback : std::nullopt;
      if (!obs.live->available && fb && obs.live->failures >= fb->after_failures)
        live_counts = {std::max(obs.prefill.spec_replicas, fb->prefill_replicas),
                       std::max(obs.decode.spec_replicas, fb->decode_replicas)};
    }
  }
  if (!in.plan->feasible) return in;
  if (live_counts) {
    in.plan->prefill.replicas = std::clamp(live_counts->first, d.plan.prefill.min_replicas, d.plan.prefill.max_replicas);
    in.plan->decode.replicas = std::clamp(live_counts->second, d.plan.decode.min_replicas, d.plan.decode.max_replicas);
    in.plan->notation = notation(in.plan->prefill.replicas, in.plan->decode.replicas);
  }

  apply_capacity(obs, in);

  const bool auto_mode = d.mode == api::Mode::Auto;
  const std::int64_t gen = obs.metadata.generation;
  const bool yielded_now = auto_mode && obs.status.yielded_generation == gen;
  bool yield = false;
  in.prefill = intend_role(obs, Role::Prefill, in.plan->prefill.replicas, auto_mode, yielded_now, d.on_override, yield);
  in.decode = intend_role(obs, Role::Decode, in.plan->decode.replicas, auto_mode, yielded_now, d.on_override, yield);
  if (yield) {
    // One role overridden under Yield: stop writing both until the spec changes.
    in.prefill.write.reset();
    in.decode.write.reset();
    if (!in.prefill.override_detected) in.prefill.applied = obs.prefill.spec_replicas;
    if (!in.decode.override_detected) in.decode.applied = obs.decode.spec_replicas;
  }
  in.yielded = yielded_now || yield;
  if (in.yielded) in.yield_generation = gen;
  return in;
}

Report report(const Observation& obs, const Intent& intent, const WriteOutcome& prefill_w, const WriteOutcome& decode_w) {
  Report rep;
  const api::PDDeploymentStatus& old = obs.status;
  const std::int64_t gen = obs.metadata.generation;
  api::PDDeploymentStatus& st = rep.status;
  st.observed_generation = gen;
  st.conditions = old.conditions;
  auto apply = [&](const std::optional<ConditionUpdate>& u) {
    if (u) set_condition(st.conditions, *u, gen, obs.now);
  };
  auto warn = [&](const std::string& reason, const std::string& msg) { rep.events.push_back({"Warning", reason, msg}); };
  Findings f;

  if (!intent.valid) {
    f.invalid_spec = obs.spec_error;
    if (!already_said(old, "InvalidSpec", f.invalid_spec)) warn("InvalidSpec", f.invalid_spec);
    apply(ready(f));
    apply(scaling_active(f));
    apply(degraded(f));
    st.last_decision = old.last_decision;
    return rep;
  }

  const api::PDDeploymentSpec& d = *obs.spec;
  const planner::Plan& p = *intent.plan;
  st.last_decision = decision_of(d, p);
  {
    // The decision's time moves only when the decision does.
    api::Decision untimed = old.last_decision.value_or(api::Decision{});
    untimed.time.reset();
    const bool same = old.last_decision && old.last_decision->time && untimed == *st.last_decision;
    st.last_decision->time = same ? old.last_decision->time : api::whole_seconds(obs.now);
  }

  if (!p.feasible) {
    f.infeasible = join(p.reasons, "; ");
    if (!already_said(old, "Infeasible", f.infeasible)) warn("Infeasible", f.infeasible);
    apply(ready(f));
    apply(scaling_active(f));
    apply(degraded(f));
    return rep;
  }

  f.mode = d.mode;
  f.plan = p.notation;
  f.yielded = intent.yielded;
  f.prefill_desired = intent.prefill.desired;
  f.decode_desired = intent.decode.desired;
  f.prefill_current = obs.prefill.spec_replicas;
  f.decode_current = obs.decode.spec_replicas;
  f.prefill_ready = obs.prefill.ready_replicas;
  f.decode_ready = obs.decode.ready_replicas;

  if (obs.live) {
    const LiveLoad& l = *obs.live;
    st.metrics = metrics_status(l, obs);
    f.metrics = MetricsFinding{l.available, l.observed.requests_per_s, l.error, l.failures,
                               d.metrics ? d.metrics->fallback : std::nullopt};
    const api::Condition* c = api::find_condition(old, "MetricsAvailable");
    if (!l.available && (!c || c->status != api::ConditionStatus::False))
      warn("FailedGetMetrics", metrics_available(f)->message);
  }
  st.plan = p.notation;
  st.prefill = role_status(intent.prefill, obs.prefill, d.plan.prefill.gpus_per_replica);
  st.decode = role_status(intent.decode, obs.decode, d.plan.decode.gpus_per_replica);
  st.yielded_generation = intent.yield_generation;

  // Missing targets and failed reads or writes.
  for (Role role : {Role::Prefill, Role::Decode}) {
    const TargetObservation& t = target(obs, role);
    const std::string ref = target_text(target_ref(d, role));
    if (t.not_found) f.missing.push_back(std::string(to_string(role)) + " target " + ref + " not found");
    else if (!t.read) f.degraded.push_back("cannot read " + std::string(to_string(role)) + " target " + ref + ": " + t.error);
  }
  for (Role role : {Role::Prefill, Role::Decode}) {
    const WriteOutcome& w = role == Role::Prefill ? prefill_w : decode_w;
    const RoleIntent& ri = role == Role::Prefill ? intent.prefill : intent.decode;
    if (!w.attempted) continue;
    f.wrote = true;
    const std::string what = std::string(to_string(role)) + " " + target_text(target_ref(d, role));
    if (w.ok) {
      rep.events.push_back({"Normal", "SuccessfulRescale",
                            "scaled " + what + " from " + std::to_string(target(obs, role).spec_replicas) + " to " +
                                std::to_string(*ri.write) + " (plan " + p.notation + ")"});
    } else {
      const std::string msg = "cannot scale " + what + " to " + std::to_string(*ri.write) + ": " + w.error;
      f.write_failed = true;
      f.degraded.push_back(msg);
      warn("FailedRescale", msg);
      // Not written: keep the old record so the next attempt is not taken for an override.
      (role == Role::Prefill ? st.prefill : st.decode)->applied_replicas = old_applied(obs, role);
    }
  }

  for (Role role : {Role::Prefill, Role::Decode}) {
    const RoleIntent& ri = role == Role::Prefill ? intent.prefill : intent.decode;
    if (!ri.override_detected) continue;
    const auto prev = old_applied(obs, role);
    f.overrides.push_back(std::string(to_string(role)) + " " + target_text(target_ref(d, role)) + " set to " +
                          std::to_string(ri.override_value) + " by someone else (pdscaler had set " +
                          std::to_string(prev.value_or(0)) + "); " +
                          (d.on_override == api::OverridePolicy::Yield ? std::string("yielding until the spec changes")
                                                                       : "reasserting " + std::to_string(ri.desired)));
  }
  for (const auto& o : f.overrides) warn("ExternalOverride", o);
  if (!f.missing.empty() && !already_said(old, "TargetNotFound", join(f.missing, "; ")))
    warn("TargetNotFound", join(f.missing, "; "));
  rep.retry_soon = !f.missing.empty() || !f.degraded.empty();

  // Capacity: pods the cluster could not place.
  f.pods_listed = obs.prefill.pods.read && obs.decode.pods.read;
  f.pods_error = !obs.prefill.pods.read ? obs.prefill.pods.error : obs.decode.pods.error;
  const bool capacity_binds = intent.capacity && intent.unconstrained_gpus > intent.capacity->gpus;
  if (intent.capacity) {
    const CapacityLimit& c = *intent.capacity;
    st.capacity = api::CapacityStatus{c.gpus, c.since, c.message, c.wanted_gpus};
    f.capacity = CapacityFinding{true,
                                 capacity_binds,
                                 c.gpus,
                                 p.total_gpus,
                                 intent.unconstrained_gpus,
                                 c.message,
                                 p.notation,
                                 c.since,
                                 c.since + std::chrono::seconds(static_cast<long long>(d.capacity_retry_s))};
    if (intent.capacity_new && capacity_binds) warn("CapacityLimited", capacity_limited(f, nullptr)->message);
  }

  f.limits = p.limits;
  std::vector<std::string> fields;
  for (auto c : p.limits)
    fields.push_back(capacity_binds && c == planner::Constraint::MaxTotalGpus
                         ? "the " + std::to_string(intent.capacity->gpus) + " schedulable GPUs (CapacityLimited)"
                         : planner::constraint_field(c));
  f.limit_fields = join(fields, ", ");
  f.prefill_exact = p.d.prefill_exact;
  f.decode_exact = p.d.decode_exact;
  f.meets_slo = p.meets_slo;

  apply(metrics_available(f));
  apply(external_override(f, api::find_condition(old, "ExternalOverride"), gen));
  apply(ready(f));
  apply(scaling_active(f));
  apply(degraded(f));
  apply(capacity_limited(f, api::find_condition(old, "CapacityLimited")));
  apply(scaling_limited(f));
  return rep;
}

std::optional<double> recheck_after_s(const Observation& obs, const Intent& intent) {
  if (!intent.valid) return std::nullopt;
  std::optional<double> next;
  auto soonest = [&](double v) { next = next ? std::min(*next, v) : v; };
  for (const auto* t : {&obs.prefill.pods, &obs.decode.pods})
    for (double age : t->unschedulable_for_s)
      if (age < obs.spec->pending_timeout_s) soonest(obs.spec->pending_timeout_s - age);
  if (intent.capacity) soonest(obs.spec->capacity_retry_s - api::seconds_between(intent.capacity->since, obs.now));
  return next;
}

}  // namespace pdscaler::reconcile
