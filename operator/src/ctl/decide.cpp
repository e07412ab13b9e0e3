#include "pdscaler/ctl/decide.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pdscaler/kube/client.h"

namespace pdscaler::ctl {
namespace {

using nlohmann::json;

// Kubernetes 1.20 reads an empty string in a merge patch of a custom resource as null, which the
// schema then refuses: every condition message is non-empty.
constexpr const char* kHealthy = "targets read and written without errors";

long long generation_of(const json& obj) {
  return obj.contains("metadata") ? obj["metadata"].value("generation", 0LL) : 0LL;
}

const json& old_status(const Observation& obs) {
  static const json kEmpty = json::object();
  if (obs.object.contains("status") && obs.object["status"].is_object()) return obs.object["status"];
  return kEmpty;
}

std::optional<int> old_applied(const Observation& obs, Role r) {
  const json& st = old_status(obs);
  const char* key = to_string(r);
  if (st.contains(key) && st[key].is_object() && st[key].contains("appliedReplicas") &&
      st[key]["appliedReplicas"].is_number_integer())
    return st[key]["appliedReplicas"].get<int>();
  return std::nullopt;
}

std::string target_text(const codec::ScaleTargetRef& t) { return t.kind + "/" + t.name; }

const json* find_condition(const json& st, const std::string& type) {
  if (!st.contains("conditions") || !st["conditions"].is_array()) return nullptr;
  for (const auto& c : st["conditions"])
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

// True when the old Ready condition already said this (so the event was already recorded).
bool already_said(const json& st, const std::string& reason, const std::string& message) {
  const json* c = find_condition(st, "Ready");
  return c && c->value("reason", "") == reason && c->value("message", "") == message;
}

std::string limit_reason(planner::Constraint c) {
  switch (c) {
    case planner::Constraint::PrefillMinReplicas:
    case planner::Constraint::DecodeMinReplicas: return "MinReplicas";
    case planner::Constraint::PrefillMaxReplicas:
    case planner::Constraint::DecodeMaxReplicas: return "MaxReplicas";
    case planner::Constraint::MaxTotalGpus: return "GpuBudget";
    case planner::Constraint::None: break;
  }
  return "WithinLimits";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

RoleIntent intend_role(const Observation& obs, Role r, int desired, bool auto_mode,
                       bool yielded_now, codec::OverridePolicy policy, bool& yield_out) {
  RoleIntent ri;
  ri.desired = desired;
  const TargetObservation& t = r == Role::Prefill ? obs.prefill : obs.decode;
  if (!auto_mode || !t.read) {
    ri.applied = auto_mode ? old_applied(obs, r) : std::nullopt;
    return ri;
  }
  const auto applied = old_applied(obs, r);
  if (yielded_now) {
    ri.applied = applied;
    return ri;
  }
  if (applied && t.spec_replicas != *applied) {
    ri.override_detected = true;
    ri.override_value = t.spec_replicas;
    if (policy == codec::OverridePolicy::Yield) {
      yield_out = true;
      ri.applied = t.spec_replicas;  // the new baseline, so a later spec change is not an override
      return ri;
    }
  }
  if (t.spec_replicas != desired) ri.write = desired;
  ri.applied = desired;
  return ri;
}

json role_status(const RoleIntent& ri, const TargetObservation& t, int gpus_per_replica) {
  json s = {{"desiredReplicas", ri.desired},
            {"currentReplicas", t.spec_replicas},
            {"readyReplicas", t.ready_replicas},
            {"gpus", ri.desired * gpus_per_replica},
            {"summary", fmt::format("{}/{}", t.ready_replicas, ri.desired)}};
  if (ri.applied) s["appliedReplicas"] = *ri.applied;
  return s;
}

json decision_json(const codec::PDDeployment& d, const planner::Plan& p) {
  json explanation = json::object();
  for (const auto& q : planner::explain(p))
    explanation[q.name] = std::isfinite(q.value) ? json(q.value) : json(nullptr);
  const auto& x = p.d;
  return {
      {"plan", p.notation},
      {"feasible", p.feasible},
      {"meetsSlo", p.meets_slo},
      {"inputs",
       {{"tokensPerSecond", x.total_tokens_per_s},
        {"requestsPerSecond", x.request_rate},
        {"inputLength", x.input_length},
        {"outputLength", x.output_length},
        {"ttft", codec::format_duration(d.plan.slo.ttft_s)},
        {"tpot", codec::format_duration(d.plan.slo.tpot_s)},
        {"ttftPercentile", d.plan.slo.ttft_percentile}}},
      {"explanation", explanation},
  };
}

}  // namespace

const char* to_string(Role r) { return r == Role::Prefill ? "prefill" : "decode"; }

namespace {
std::chrono::system_clock::time_point from_epoch(double t_s) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(t_s)));
}

json history_json(const std::vector<planner::HistoryPoint>& h) {
  json out = json::array();
  for (const auto& p : h)
    out.push_back({{"time", kube::format_time(from_epoch(p.t_s))},
                   {"requestsPerSecond", p.requests_per_s},
                   {"prefill", p.prefill},
                   {"decode", p.decode}});
  return out;
}
}  // namespace

namespace {
const json* pod_condition(const json& status, const char* type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

double seconds_between(std::chrono::system_clock::time_point a, std::chrono::system_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

PodSummary summarize_pods(const std::vector<json>& pods, std::chrono::system_clock::time_point now) {
  PodSummary s;
  s.read = true;
  std::vector<std::pair<double, double>> ready;  // (created, start-up)
  for (const auto& p : pods) {
    if (!p.is_object() || !p.contains("metadata") || !p["metadata"].is_object()) continue;
    const json& md = p["metadata"];
    if (md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) continue;
    const json spec = p.value("spec", json::object()), status = p.value("status", json::object());
    const auto created = kube::parse_time(md.value("creationTimestamp", ""));
    if (spec.is_object() && !spec.value("nodeName", "").empty()) {
      ++s.scheduled;
      const json* r = pod_condition(status, "Ready");
      if (r && r->value("status", "") == "True" && created) {
        if (const auto at = kube::parse_time(r->value("lastTransitionTime", "")); at && *at >= *created)
          ready.emplace_back(std::chrono::duration<double>(created->time_since_epoch()).count(), seconds_between(*created, *at));
      }
      continue;
    }
    const json* sc = pod_condition(status, "PodScheduled");
    if (sc && sc->value("status", "") == "False" && sc->value("reason", "") == "Unschedulable") {
      auto since = kube::parse_time(sc->value("lastTransitionTime", ""));
      if (!since) since = created;
      s.unschedulable_for_s.push_back(since ? std::max(0.0, seconds_between(*since, now)) : 0.0);
      if (s.unschedulable_message.empty()) s.unschedulable_message = sc->value("message", "");
    }
  }
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; i < ready.size() && i < 5; ++i) s.startup_s.push_back(ready[i].second);
  return s;
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

void restore_live_state(const json& status, long long generation, std::vector<planner::HistoryPoint>& history,
                        std::optional<planner::CalibrationState>& calibration) {
  if (!status.is_object() || !status.contains("metrics") || !status["metrics"].is_object()) return;
  const json& m = status["metrics"];
  // Whatever does not read back cleanly is skipped: a hand-edited status is not worth a crash.
  if (m.contains("history") && m["history"].is_array()) {
    for (const auto& e : m["history"]) {
      if (!e.is_object()) continue;
      const auto t = kube::parse_time(e.value("time", ""));
      const auto rps = e.find("requestsPerSecond"), p = e.find("prefill"), d = e.find("decode");
      if (!t || rps == e.end() || !rps->is_number() || p == e.end() || !p->is_number_integer() ||
          d == e.end() || !d->is_number_integer())
        continue;
      history.push_back({std::chrono::duration<double>(t->time_since_epoch()).count(), rps->get<double>(),
                         p->get<int>(), d->get<int>()});
    }
  }
  if (m.contains("calibration") && m["calibration"].is_object()) {
    const json& c = m["calibration"];
    const auto f = c.find("prefillThroughputFactor"), g = c.find("decodeTpotFactor");
    if (c.value("generation", -1LL) == generation && f != c.end() && f->is_number() && g != c.end() &&
        g->is_number() && f->get<double>() > 0 && g->get<double>() > 0)
      calibration = planner::CalibrationState{f->get<double>(), g->get<double>(), c.value("windowsUsed", 0),
                                              "restored after a restart"};
  }
}

void set_condition(json& conditions, const std::string& type, bool status, const std::string& reason,
                   const std::string& message, long long generation, const std::string& now) {
  if (!conditions.is_array()) conditions = json::array();
  const std::string s = status ? "True" : "False";
  const std::string msg = message.empty() ? reason : message;
  for (auto& c : conditions) {
    if (c.value("type", "") != type) continue;
    if (c.value("status", "") != s) c["lastTransitionTime"] = now;
    c["status"] = s;
    c["reason"] = reason;
    c["message"] = msg;
    c["observedGeneration"] = generation;
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", s},
                        {"reason", reason},
                        {"message", msg},
                        {"lastTransitionTime", now},
                        {"observedGeneration", generation}});
}

namespace {
std::optional<CapacityLimit> old_capacity(const Observation& obs) {
  const json& st = old_status(obs);
  if (!st.contains("capacity") || !st["capacity"].is_object()) return std::nullopt;
  const json& c = st["capacity"];
  const auto since = kube::parse_time(c.value("since", ""));
  if (!c.contains("gpus") || !c["gpus"].is_number_integer() || !since) return std::nullopt;
  return CapacityLimit{c["gpus"].get<int>(), *since, c.value("message", ""), c.value("wantedGpus", 0)};
}

// Pods Pending for lack of GPUs longer than spec.scaling.pendingTimeout: plan within the GPUs that
// were schedulable (the planner's budget split, for the most goodput) until the retry interval
// has passed, then try the unconstrained plan again.
void apply_capacity(const Observation& obs, Intent& in) {
  const codec::PDDeployment& d = *obs.spec;
  const int gp = d.plan.prefill.gpus_per_replica, gd = d.plan.decode.gpus_per_replica;
  in.unconstrained_gpus = in.plan->prefill.replicas * gp + in.plan->decode.replicas * gd;
  std::optional<CapacityLimit> rec = old_capacity(obs);
  if (rec && seconds_between(rec->since, obs.now) >= d.capacity_retry_s) rec.reset();

  const PodSummary &pp = obs.prefill.pods, &dp = obs.decode.pods;
  if (pp.read && dp.read) {
    // Stuck pods are new evidence unless they were already stuck when the limit was recorded
    // (those are on their way out as the workloads shrink to the limit).
    const double record_age = rec ? seconds_between(rec->since, obs.now) : 1e18;
    int stuck_p = 0, stuck_d = 0;
    for (double a : pp.unschedulable_for_s) stuck_p += a >= d.pending_timeout_s && a < record_age;
    for (double a : dp.unschedulable_for_s) stuck_d += a >= d.pending_timeout_s && a < record_age;
    if (stuck_p + stuck_d > 0) {
      const std::string why = pp.unschedulable_message.empty() ? dp.unschedulable_message : pp.unschedulable_message;
      rec = CapacityLimit{pp.scheduled * gp + dp.scheduled * gd, obs.now,
                          fmt::format("{} prefill and {} decode pods unschedulable for over {}{}", stuck_p, stuck_d,
                                      codec::format_duration(d.pending_timeout_s), why.empty() ? "" : " (" + why + ")"),
                          in.unconstrained_gpus};
      in.capacity_new = true;
    }
  }
  in.capacity = rec;
  if (!rec || in.unconstrained_gpus <= rec->gpus) return;
  planner::PlanInput limited = (obs.live && obs.live->available && obs.live->recommendation)
                                   ? obs.live->recommendation->input : d.plan;
  limited.max_total_gpus = std::min(limited.max_total_gpus.value_or(rec->gpus), rec->gpus);
  planner::Plan p = planner::plan(limited);
  if (p.feasible) in.plan = std::move(p);
}
}  // namespace

Intent intend(const Observation& obs) {
  Intent in;
  if (!obs.spec) return in;
  in.valid = true;
  const codec::PDDeployment& d = *obs.spec;
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
    in.plan->notation = std::to_string(in.plan->prefill.replicas) + "P" + std::to_string(in.plan->decode.replicas) + "D";
  }

  apply_capacity(obs, in);

  const bool auto_mode = d.mode == codec::Mode::Auto;
  const long long gen = generation_of(obs.object);
  const json& st = old_status(obs);
  const bool yielded_now = auto_mode && st.contains("yieldedGeneration") &&
                           st["yieldedGeneration"].is_number_integer() &&
                           st["yieldedGeneration"].get<long long>() == gen;
  bool yield = false;
  in.prefill = intend_role(obs, Role::Prefill, in.plan->prefill.replicas, auto_mode, yielded_now,
                           d.on_override, yield);
  in.decode = intend_role(obs, Role::Decode, in.plan->decode.replicas, auto_mode, yielded_now,
                          d.on_override, yield);
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

Report report(const Observation& obs, const Intent& intent, const WriteOutcome& prefill_w,
              const WriteOutcome& decode_w) {
  Report rep;
  const json& old = old_status(obs);
  const long long gen = generation_of(obs.object);
  const std::string now = kube::format_time(obs.now);
  json st = json::object();
  json conditions = old.contains("conditions") ? old["conditions"] : json::array();
  auto cond = [&](const std::string& type, bool status, const std::string& reason, const std::string& msg) {
    set_condition(conditions, type, status, reason, msg, gen, now);
  };
  auto warn = [&](const std::string& reason, const std::string& msg) {
    rep.events.push_back({"Warning", reason, msg});
  };
  st["observedGeneration"] = gen;

  if (!intent.valid) {
    const std::string msg = obs.spec_error;
    if (!already_said(old, "InvalidSpec", msg)) warn("InvalidSpec", msg);
    cond("Ready", false, "InvalidSpec", msg);
    cond("ScalingActive", false, "InvalidSpec", "no replicas are written while the spec is invalid");
    cond("Degraded", true, "InvalidSpec", msg);
    st["conditions"] = conditions;
    if (old.contains("lastDecision")) st["lastDecision"] = old["lastDecision"];
    rep.status = st;
    return rep;
  }

  const codec::PDDeployment& d = *obs.spec;
  const planner::Plan& p = *intent.plan;
  json decision = decision_json(d, p);
  const json old_decision = old.value("lastDecision", json::object());
  json old_decision_untimed = old_decision;
  old_decision_untimed.erase("time");
  decision["time"] = old_decision_untimed == decision && old_decision.contains("time") ? old_decision["time"] : json(now);
  st["lastDecision"] = decision;

  if (!p.feasible) {
    const std::string msg = join(p.reasons, "; ");
    if (!already_said(old, "Infeasible", msg)) warn("Infeasible", msg);
    cond("Ready", false, "Infeasible", msg);
    cond("ScalingActive", false, "Infeasible", "no replicas are written while no count can meet the SLOs");
    cond("Degraded", false, "AsExpected", kHealthy);
    st["conditions"] = conditions;
    rep.status = st;
    return rep;
  }

  if (obs.live) {
    const LiveLoad& l = *obs.live;
    json m = {{"available", l.available}, {"consecutiveFailures", l.failures}};
    if (!l.evaluated_at.empty()) m["lastEvaluation"] = l.evaluated_at;
    if (l.recommendation) {
      m["requestsPerSecond"] = l.observed.requests_per_s;
      m["completionsPerSecond"] = l.observed.completions_per_s;
      if (l.observed.mean_input) m["meanInputLength"] = *l.observed.mean_input;
      if (l.observed.mean_output) m["meanOutputLength"] = *l.observed.mean_output;
      if (l.observed.ttft_s) m["observedTtftSeconds"] = *l.observed.ttft_s;
      if (l.observed.tpot_s) m["observedTpotSeconds"] = *l.observed.tpot_s;
      if (l.observed.ttft_at_percentile_s) m["observedTtftAtPercentileSeconds"] = *l.observed.ttft_at_percentile_s;
      if (l.observed.prefix_hit_rate) m["prefixCacheHitRate"] = *l.observed.prefix_hit_rate;
      if (l.observed.input_stddev) m["inputLengthStdDev"] = *l.observed.input_stddev;
      if (l.observed.decode_running && obs.decode.read && obs.decode.ready_replicas > 0)
        m["observedDecodeBatch"] = *l.observed.decode_running / obs.decode.ready_replicas;
      m["provisionedRequestsPerSecond"] = l.recommendation->provisioned_rate;
      m["forecast"] = l.recommendation->method;
      if (const auto& pn = l.recommendation->predicted_now) {
        if (std::isfinite(pn->ttft_mean_s)) m["predictedTtftSeconds"] = pn->ttft_mean_s;
        if (std::isfinite(pn->tpot_s)) m["predictedTpotSeconds"] = pn->tpot_s;
      }
      const auto& c = l.recommendation->calibration;
      m["calibration"] = {{"prefillThroughputFactor", c.prefill_throughput},
                          {"decodeTpotFactor", c.decode_tpot},
                          {"windowsUsed", c.windows},
                          {"lastWindow", c.last.empty() ? "none yet" : c.last},
                          {"generation", l.generation}};
    }
    if (!l.history.empty()) m["history"] = history_json(l.history);
    if (!l.startup_source.empty()) {
      m["startupSeconds"] = l.startup_s;
      m["startupSource"] = l.startup_source;
    }
    st["metrics"] = m;
    if (l.available) {
      cond("MetricsAvailable", true, "Queried", fmt::format("{:.3g} requests/s measured", l.observed.requests_per_s));
    } else {
      const auto& fb = d.metrics ? d.metrics->fallback : std::nullopt;
      const bool fallen_back = fb && l.failures >= fb->after_failures;
      const std::string msg = (l.error.empty() ? "no measurement yet" : l.error) +
                              (fallen_back ? fmt::format("; {} failed evaluations in a row: fallback replicas "
                                                         "{}P{}D (never fewer than current)",
                                                         l.failures, fb->prefill_replicas, fb->decode_replicas)
                                           : std::string("; holding the current replicas"));
      const json* c = find_condition(old, "MetricsAvailable");
      if (!c || c->value("status", "") != "False") warn("FailedGetMetrics", msg);
      cond("MetricsAvailable", false, "FailedGetMetrics", msg);
    }
  }
  st["plan"] = p.notation;
  st["prefill"] = role_status(intent.prefill, obs.prefill, d.plan.prefill.gpus_per_replica);
  st["decode"] = role_status(intent.decode, obs.decode, d.plan.decode.gpus_per_replica);
  if (intent.yield_generation) st["yieldedGeneration"] = *intent.yield_generation;

  // Missing targets and failed reads or writes.
  std::vector<std::string> missing, degraded;
  for (auto [role, t, ref] : {std::tuple{Role::Prefill, &obs.prefill, &d.prefill_target},
                              std::tuple{Role::Decode, &obs.decode, &d.decode_target}}) {
    if (t->not_found)
      missing.push_back(fmt::format("{} target {} not found", to_string(role), target_text(*ref)));
    else if (!t->read)
      degraded.push_back(fmt::format("cannot read {} target {}: {}", to_string(role), target_text(*ref), t->error));
  }
  for (auto [role, w, ri, ref] : {std::tuple{Role::Prefill, &prefill_w, &intent.prefill, &d.prefill_target},
                                  std::tuple{Role::Decode, &decode_w, &intent.decode, &d.decode_target}}) {
    if (!w->attempted) continue;
    const auto& t = role == Role::Prefill ? obs.prefill : obs.decode;
    if (w->ok) {
      rep.events.push_back({"Normal", "SuccessfulRescale",
                            fmt::format("scaled {} {} from {} to {} (plan {})", to_string(role),
                                        target_text(*ref), t.spec_replicas, *ri->write, p.notation)});
    } else {
      const std::string msg = fmt::format("cannot scale {} {} to {}: {}", to_string(role),
                                          target_text(*ref), *ri->write, w->error);
      degraded.push_back(msg);
      warn("FailedRescale", msg);
      // Not written: keep the old record so the next attempt is not taken for an override.
      const auto prev = old_applied(obs, role);
      json& rs = st[to_string(role)];
      if (prev) rs["appliedReplicas"] = *prev; else rs.erase("appliedReplicas");
    }
  }

  // Overrides.
  std::vector<std::string> overrides;
  for (auto [role, ri, ref] : {std::tuple{Role::Prefill, &intent.prefill, &d.prefill_target},
                               std::tuple{Role::Decode, &intent.decode, &d.decode_target}}) {
    if (!ri->override_detected) continue;
    const auto prev = old_applied(obs, role);
    overrides.push_back(fmt::format("{} {} set to {} by someone else (pdscaler had set {}); {}",
                                    to_string(role), target_text(*ref), ri->override_value,
                                    prev ? *prev : 0,
                                    d.on_override == codec::OverridePolicy::Yield
                                        ? "yielding until the spec changes"
                                        : fmt::format("reasserting {}", ri->desired)));
  }
  for (const auto& o : overrides) warn("ExternalOverride", o);
  if (!overrides.empty())
    cond("ExternalOverride", true, intent.yielded ? "Yielded" : "Reasserted", join(overrides, "; "));
  else if (intent.yielded)
    cond("ExternalOverride", true, "Yielded", "replicas were changed by someone else; not writing until the spec changes");
  else if (const json* c = find_condition(old, "ExternalOverride");
           c && c->value("status", "") == "True" && c->value("reason", "") == "Reasserted" &&
           c->value("observedGeneration", -1LL) == gen)
    ;  // the last override stays reported until the spec changes, so SREs see the tug of war
  else
    cond("ExternalOverride", false, "NoOverride", "the workloads have the replicas pdscaler set");

  // Ready, ScalingActive.
  const bool auto_mode = d.mode == codec::Mode::Auto;
  const int pd = intent.prefill.desired, dd = intent.decode.desired;
  if (!missing.empty()) {
    const std::string msg = join(missing, "; ");
    if (!already_said(old, "TargetNotFound", msg)) warn("TargetNotFound", msg);
    cond("Ready", false, "TargetNotFound", msg);
    cond("ScalingActive", false, "TargetNotFound", msg);
    rep.retry_soon = true;
  } else if (!auto_mode) {
    const std::string m = d.mode == codec::Mode::Recommend ? "Recommend" : "Off";
    cond("Ready", true, d.mode == codec::Mode::Recommend ? "Recommended" : "Off",
         fmt::format("plan {}; mode {} does not write replicas", p.notation, m));
    cond("ScalingActive", false, d.mode == codec::Mode::Recommend ? "RecommendOnly" : "Off",
         fmt::format("spec.mode is {}", m));
  } else if (intent.yielded) {
    cond("Ready", false, "Yielded", "replicas were changed by someone else; spec.scaling.onOverride is Yield");
    cond("ScalingActive", false, "Yielded", "not writing replicas until the spec changes");
  } else {
    const int pr = obs.prefill.ready_replicas, dr = obs.decode.ready_replicas;
    const bool prefill_at = (prefill_w.attempted ? prefill_w.ok : true);
    const bool decode_at = (decode_w.attempted ? decode_w.ok : true);
    const bool ready = !prefill_w.attempted && !decode_w.attempted && pr == pd && dr == dd &&
                       obs.prefill.spec_replicas == pd && obs.decode.spec_replicas == dd;
    const std::string counts = fmt::format("plan {}: prefill {}/{} ready, decode {}/{} ready",
                                           p.notation, pr, pd, dr, dd);
    cond("Ready", ready, ready ? "AsPlanned" : "ScalingInProgress", counts);
    cond("ScalingActive", prefill_at && decode_at, prefill_at && decode_at ? "Scaling" : "FailedRescale",
         prefill_at && decode_at ? "replicas are written through /scale" : join(degraded, "; "));
  }
  if (!degraded.empty() || !missing.empty()) {
    std::vector<std::string> all = missing;
    all.insert(all.end(), degraded.begin(), degraded.end());
    cond("Degraded", true, !degraded.empty() ? "ApiError" : "TargetNotFound", join(all, "; "));
    rep.retry_soon = true;
  } else {
    cond("Degraded", false, "AsExpected", kHealthy);
  }

  // CapacityLimited: pods the cluster could not place.
  if (intent.capacity) {
    const CapacityLimit& c = *intent.capacity;
    const std::string since = kube::format_time(c.since);
    st["capacity"] = {{"gpus", c.gpus}, {"since", since}, {"message", c.message}, {"wantedGpus", c.wanted_gpus}};
    const std::string retry =
        kube::format_time(c.since + std::chrono::seconds(static_cast<long long>(d.capacity_retry_s)));
    if (intent.unconstrained_gpus > c.gpus) {
      const std::string msg = fmt::format("{}; planning within the {} GPUs that were schedulable: plan {} ({} GPUs) "
                                          "instead of {} GPUs; the full plan is tried again at {}",
                                          c.message, c.gpus, p.notation, p.total_gpus, intent.unconstrained_gpus, retry);
      if (intent.capacity_new) warn("CapacityLimited", msg);
      cond("CapacityLimited", true, "InsufficientGpus", msg);
    } else {
      cond("CapacityLimited", false, "WithinCapacity",
           fmt::format("the plan's {} GPUs fit the {} found schedulable at {}", intent.unconstrained_gpus, c.gpus, since));
    }
  } else if (obs.prefill.pods.read && obs.decode.pods.read) {
    cond("CapacityLimited", false, "WithinCapacity", "no pod of either role is waiting for GPUs");
  } else if (find_condition(old, "CapacityLimited")) {
    const std::string err = !obs.prefill.pods.read ? obs.prefill.pods.error : obs.decode.pods.error;
    cond("CapacityLimited", false, "PodsNotListed", err.empty() ? "the targets' pods could not be listed" : err);
  }

  // ScalingLimited: which constraint, if any, moved the counts.
  if (p.limits.empty()) {
    cond("ScalingLimited", false, "WithinLimits", "the SLO model alone sets the counts");
  } else {
    std::vector<std::string> fields;
    const bool capacity_binds = intent.capacity && intent.unconstrained_gpus > intent.capacity->gpus;
    for (auto c : p.limits)
      fields.push_back(capacity_binds && c == planner::Constraint::MaxTotalGpus
                           ? fmt::format("the {} schedulable GPUs (CapacityLimited)", intent.capacity->gpus)
                           : planner::constraint_field(c));
    planner::Constraint main = p.limits.back();
    cond("ScalingLimited", true, limit_reason(main),
         fmt::format("{} binds: the model needs {:.3f} prefill and {:.3f} decode replicas; plan {} {}",
                     join(fields, ", "), p.d.prefill_exact, p.d.decode_exact, p.notation,
                     p.meets_slo ? "still meets the SLOs" : "does not meet the SLOs at this load"));
  }

  st["conditions"] = conditions;
  rep.status = st;
  return rep;
}

}  // namespace pdscaler::ctl
