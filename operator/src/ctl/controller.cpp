#include "pdscaler/ctl/controller.h"

#include <spdlog/spdlog.h>

#include "pdscaler/codec/spec_codec.h"
#include "pdscaler/ctl/decide.h"
#include "pdscaler/kube/config.h"

namespace pdscaler::ctl {

using nlohmann::json;

namespace {

constexpr const char* kGroupVersion = "pdscaler.io/v1alpha1";

std::string collection(const std::string& group_version_path, const std::string& ns, const std::string& plural) {
  return group_version_path + (ns.empty() ? "" : "/namespaces/" + ns) + "/" + plural;
}

// A merge patch turning `old` into `now` at the top level (removed keys become null).
json status_patch(const json& old, const json& now) {
  json patch = now;
  if (old.is_object())
    for (auto it = old.begin(); it != old.end(); ++it)
      if (!now.contains(it.key())) patch[it.key()] = nullptr;
  return patch;
}

PodSummary observe_pods(kube::KubeClient& client, const std::string& ns, const std::string& selector,
                        std::chrono::system_clock::time_point now) {
  PodSummary s;
  if (selector.empty()) {
    s.error = "the target's /scale has no status.selector";
    return s;
  }
  auto pods = client.list("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + http::query_escape(selector));
  if (!pods) {
    s.error = "cannot list pods: " + pods.error().message;
    return s;
  }
  return summarize_pods(pods->items, now);
}

TargetObservation observe_target(kube::KubeClient& client, const std::string& ns, const codec::ScaleTargetRef& ref,
                                 std::chrono::system_clock::time_point now) {
  TargetObservation t;
  const kube::TargetRef tr{ns, ref.api_version, ref.kind, ref.name};
  auto scale = client.get_scale(tr);
  if (!scale) {
    t.not_found = scale.error().code == kube::ErrorCode::NotFound;
    t.error = scale.error().message;
    return t;
  }
  t.read = true;
  t.spec_replicas = scale->spec_replicas;
  auto obj = client.get_object(tr);
  if (obj && obj->contains("status") && (*obj)["status"].is_object())
    t.ready_replicas = (*obj)["status"].value("readyReplicas", scale->status_replicas);
  else
    t.ready_replicas = scale->status_replicas;
  t.pods = observe_pods(client, ns, scale->selector, now);
  return t;
}

// The Secrets spec.metrics.prometheus names, read at each evaluation (so a rotation is picked up).
tl::expected<PrometheusAuth, std::string> prometheus_auth(kube::KubeClient& client, const std::string& ns,
                                                          const codec::MetricsSpec& m) {
  PrometheusAuth auth;
  for (auto [ref, into, field] : {std::tuple{&m.bearer_token_secret, &auth.bearer_token, "bearerTokenSecret"},
                                  std::tuple{&m.ca_secret, &auth.ca_pem, "caSecret"}}) {
    if (!*ref) continue;
    const std::string what = fmt::format("spec.metrics.prometheus.{}: Secret {}/{}", field, ns, (*ref)->name);
    auto secret = client.get_object({ns, "v1", "Secret", (*ref)->name});
    if (!secret) return tl::unexpected(fmt::format("{}: {}", what, secret.error().message));
    const auto& data = secret->value("data", json::object());
    if (!data.is_object() || !data.contains((*ref)->key) || !data[(*ref)->key].is_string())
      return tl::unexpected(fmt::format("{} has no key \"{}\"", what, (*ref)->key));
    *into = kube::base64_decode(data[(*ref)->key].get<std::string>());
    while (into == &auth.bearer_token && !into->empty() && (into->back() == '\n' || into->back() == '\r')) into->pop_back();
  }
  return auth;
}

std::string describe_errors(const std::vector<codec::FieldError>& errs) {
  std::string out;
  for (const auto& e : errs) {
    if (!out.empty()) out += "; ";
    out += (e.path.empty() ? "" : e.path + ": ") + e.message;
  }
  return out;
}

}  // namespace

Controller::Controller(kube::KubeClient& client, SelfMetrics& metrics, ControllerOptions opts,
                       std::shared_ptr<spdlog::logger> log, MetricsSource* source)
    : client_(client), metrics_(metrics), opts_(std::move(opts)), log_(std::move(log)), source_(source) {
  auto on_error = [this](const kube::ApiError& e) {
    log_->warn("watch failed ({} {}): {}; retrying", kube::to_string(e.code), e.http_status, e.message);
  };
  pdds_ = std::make_unique<Informer>(
      client_, collection("/apis/pdscaler.io/v1alpha1", opts_.namespace_, "pddeployments"),
      [this](const std::string& key, const json*) { queue_.add(key); }, on_error);
  deployments_ = std::make_unique<Informer>(
      client_, collection("/apis/apps/v1", opts_.namespace_, "deployments"),
      [this](const std::string&, const json* obj) { on_workload_change(obj); }, on_error);
}

Controller::~Controller() { stop(); }

void Controller::guarded(const char* what, const std::function<void()>& body) {
  // A bug in one loop must not take the operator down: log it and start the loop again.
  while (!stopped_) {
    try {
      body();
      return;
    } catch (const std::exception& e) {
      log_->error("{} failed: {}; restarting it", what, e.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

void Controller::start() {
  threads_.emplace_back([this] { guarded("PDDeployment informer", [this] { pdds_->run(); }); });
  threads_.emplace_back([this] { guarded("Deployment informer", [this] { deployments_->run(); }); });
  threads_.emplace_back([this] { guarded("worker", [this] { worker(); }); });
  threads_.emplace_back([this] {
    // Level-triggered safety net: look at everything again now and then (targets of kinds we do
    // not watch, missed events).
    auto next = std::chrono::steady_clock::now() + opts_.resync;
    while (!stopped_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (std::chrono::steady_clock::now() >= next) {
        enqueue_all();
        next = std::chrono::steady_clock::now() + opts_.resync;
      }
    }
  });
}

void Controller::stop() {
  if (stopped_.exchange(true)) return;
  pdds_->stop();
  deployments_->stop();
  client_.cancel_watches();
  queue_.shutdown();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool Controller::ready() const { return pdds_->synced() && deployments_->synced(); }

void Controller::set_leader(bool leader) {
  const bool was = leader_.exchange(leader);
  if (leader && !was) enqueue_all();
}

void Controller::enqueue_all() {
  for (const auto& k : pdds_->keys()) queue_.add(k);
}

void Controller::on_workload_change(const json* workload) {
  if (!workload) return;
  const std::string ns = (*workload)["metadata"].value("namespace", "");
  const std::string name = (*workload)["metadata"].value("name", "");
  for (const auto& obj : pdds_->objects()) {
    if (obj["metadata"].value("namespace", "") != ns || !obj.contains("spec")) continue;
    for (const char* role : {"prefill", "decode"}) {
      const json& spec = obj["spec"];
      if (!spec.contains(role) || !spec[role].contains("scaleTargetRef")) continue;
      const json& ref = spec[role]["scaleTargetRef"];
      if (ref.value("kind", "") == "Deployment" && ref.value("name", "") == name) {
        queue_.add(Informer::key_of(obj));
        break;
      }
    }
  }
}

void Controller::worker() {
  while (auto key = queue_.get()) {
    if (leader_) {
      try {
        reconcile(*key);
      } catch (const std::exception& e) {
        log_->error("reconcile {} failed: {}", *key, e.what());
        metrics_.reconcile("error", 0);
        queue_.add_rate_limited(*key);
      }
    }
    queue_.done(*key);
  }
}

void Controller::reconcile(const std::string& key) {
  const auto start = std::chrono::steady_clock::now();
  auto obj = pdds_->get(key);
  const auto slash = key.find('/');
  const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  if (!obj) {
    metrics_.forget(ns, name);
    queue_.forget(key);
    live_.erase(key);
    return;
  }

  log_->debug("{}: reconciling generation {} resourceVersion {}", key,
              (*obj)["metadata"].value("generation", 0LL), (*obj)["metadata"].value("resourceVersion", ""));
  Observation obs;
  obs.object = *obj;
  obs.now = std::chrono::system_clock::now();
  auto decoded = codec::decode_pddeployment(obj->dump());
  if (!decoded) {
    obs.spec_error = describe_errors(decoded.error());
  } else {
    obs.spec = std::move(*decoded);
    obs.prefill = observe_target(client_, ns, obs.spec->prefill_target, obs.now);
    obs.decode = observe_target(client_, ns, obs.spec->decode_target, obs.now);
    for (const auto* t : {&obs.prefill, &obs.decode})
      if (t->read && !t->pods.read) log_->debug("{}: {}", key, t->pods.error);
    if (obs.spec->metrics)
      obs.live = evaluate_live(key, (*obj)["metadata"].value("generation", 0LL), *obs.spec, obs);
    else
      live_.erase(key);
  }

  const Intent intent = intend(obs);
  WriteOutcome pw, dw;
  for (auto [role, ri, out] : {std::tuple{Role::Prefill, &intent.prefill, &pw},
                               std::tuple{Role::Decode, &intent.decode, &dw}}) {
    if (!ri->write) continue;
    const auto& ref = role == Role::Prefill ? obs.spec->prefill_target : obs.spec->decode_target;
    out->attempted = true;
    auto r = client_.set_scale({ns, ref.api_version, ref.kind, ref.name}, *ri->write);
    out->ok = static_cast<bool>(r);
    if (!r) out->error = r.error().message;
    log_->info("{}: scale {} {}/{} to {}: {}", key, to_string(role), ref.kind, ref.name, *ri->write,
               r ? "ok" : r.error().message);
  }

  const Report rep = report(obs, intent, pw, dw);
  const json old_status = obj->value("status", json::object());
  bool failed = false;
  if (rep.status != old_status) {
    if (log_->should_log(spdlog::level::trace))
      log_->trace("{}: status change {}", key, json::diff(old_status, rep.status).dump());
    auto r = client_.patch_pddeployment_status(ns, name, status_patch(old_status, rep.status));
    if (r) {
      log_->debug("{}: status written at resourceVersion {}", key, (*r)["metadata"].value("resourceVersion", ""));
      pdds_->update_local(key, *r);  // the server's newest copy, so the next look sees our status
    } else if (r.error().code != kube::ErrorCode::NotFound) {
      log_->warn("{}: status update failed: {}", key, r.error().message);
      failed = true;
    }
  }
  const json involved = {{"apiVersion", kGroupVersion},
                         {"kind", "PDDeployment"},
                         {"namespace", ns},
                         {"name", name},
                         {"uid", (*obj)["metadata"].value("uid", "")},
                         {"resourceVersion", (*obj)["metadata"].value("resourceVersion", "")}};
  for (const auto& e : rep.events) {
    log_->info("{}: event {} {}: {}", key, e.type, e.reason, e.message);
    auto r = client_.create_event(ns, {involved, e.type, e.reason, e.message, "Reconcile"});
    if (!r) log_->warn("{}: cannot record event {}: {}", key, e.reason, r.error().message);
  }

  if (intent.plan && intent.plan->feasible) {
    metrics_.replicas(ns, name, "prefill", intent.prefill.desired, obs.prefill.spec_replicas);
    metrics_.replicas(ns, name, "decode", intent.decode.desired, obs.decode.spec_replicas);
    metrics_.predicted(ns, name, intent.plan->predicted.ttft_at_percentile_s, intent.plan->predicted.tpot_s);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool retry = failed || rep.retry_soon;
  const std::string result = !intent.valid ? "invalid" : retry ? "retry" : "success";
  metrics_.reconcile(result, secs);
  if (retry) queue_.add_rate_limited(key);
  else queue_.forget(key);
  if (intent.valid) {
    // Nothing else may wake us when pods wait for GPUs or a capacity limit runs out: look again then.
    std::optional<double> next_s;
    auto soonest = [&](double v) { next_s = next_s ? std::min(*next_s, v) : v; };
    for (const auto* t : {&obs.prefill.pods, &obs.decode.pods})
      for (double age : t->unschedulable_for_s)
        if (age < obs.spec->pending_timeout_s) soonest(obs.spec->pending_timeout_s - age);
    if (intent.capacity)
      soonest(obs.spec->capacity_retry_s - std::chrono::duration<double>(obs.now - intent.capacity->since).count());
    if (next_s)
      queue_.add_after(key, std::chrono::milliseconds(static_cast<long long>(std::max(1.0, *next_s + 0.5) * 1000)));
  }
  if (obs.live) {
    // Measure again at the next interval, whatever else happens.
    queue_.add_after(key, std::chrono::milliseconds(static_cast<long long>(obs.spec->metrics->evaluation_interval_s * 1000)));
  }
}

LiveLoad Controller::evaluate_live(const std::string& key, long long generation, const codec::PDDeployment& d,
                                   const Observation& obs) {
  Live& live = live_[key];
  const auto& m = *d.metrics;
  if (live.generation != generation || !live.autoscaler) {
    // A new spec: a new policy (its profile, SLOs or windows may have changed). The load history
    // carries over: from the policy it replaces, or after a restart from status; the calibration
    // only while the spec is the one it was learnt under.
    planner::AutoscalerConfig c;
    c.startup_s = m.startup_s;
    c.interval_s = m.evaluation_interval_s;
    c.stabilizer.scale_down_window_s = m.scale_down_window_s;
    c.calibration.enabled = m.calibration.enabled;
    c.calibration.max_correction = m.calibration.max_correction;
    c.calibration.min_requests = m.calibration.min_requests;
    c.calibration.window_s = m.window_s;
    std::vector<planner::HistoryPoint> history;
    std::optional<planner::CalibrationState> calibration;
    if (live.autoscaler) {
      history.assign(live.autoscaler->history().begin(), live.autoscaler->history().end());
    } else {
      restore_live_state(obs.object.value("status", json::object()), generation, history, calibration);
      if (!history.empty())
        log_->info("{}: restored {} evaluations{} from status", key, history.size(),
                   calibration ? " and the calibration" : "");
    }
    live.autoscaler = std::make_unique<planner::Autoscaler>(d.plan, c);
    live.autoscaler->restore(history, calibration);
    live.generation = generation;
    live.next_evaluation = {};
    live.state.generation = generation;
    live.state.history = history;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < live.next_evaluation) return live.state;
  live.next_evaluation = now + std::chrono::milliseconds(static_cast<long long>(m.evaluation_interval_s * 1000));
  live.state.evaluated_at = kube::format_time(obs.now);
  if (!source_) {
    live.state.available = false;
    live.state.error = "no metrics source in this operator";
    return live.state;
  }
  // Look ahead over the start-up time measured on the cluster, once there are ready pods to measure.
  if (const auto up = measured_startup_s(obs.prefill.pods, obs.decode.pods)) {
    live.state.startup_s = *up;
    live.state.startup_source = fmt::format("measured: median creation to Ready of the newest pods ({} prefill, {} decode)",
                                            obs.prefill.pods.startup_s.size(), obs.decode.pods.startup_s.size());
  } else {
    live.state.startup_s = m.startup_s;
    live.state.startup_source = "spec.metrics.startupTime (no ready pods measured yet)";
  }
  live.autoscaler->set_startup_s(live.state.startup_s);
  auto auth = prometheus_auth(client_, key.substr(0, key.find('/')), m);
  auto observed = auth ? source_->observe(m, *auth) : tl::expected<ObservedLoad, std::string>(tl::unexpect, auth.error());
  const double t_s = std::chrono::duration<double>(obs.now.time_since_epoch()).count();
  const int cur_p = obs.prefill.read ? obs.prefill.spec_replicas : d.plan.prefill.min_replicas;
  const int cur_d = obs.decode.read ? obs.decode.spec_replicas : d.plan.decode.min_replicas;
  if (!observed) {
    live.autoscaler->hold(t_s, cur_p, cur_d);
    live.state.available = false;
    live.state.error = observed.error();
    ++live.state.failures;
    log_->warn("{}: metrics unavailable ({} in a row): {}", key, live.state.failures, observed.error());
    return live.state;
  }
  planner::LoadSample sample;
  sample.t_s = t_s;
  sample.requests_per_s = observed->requests_per_s;
  sample.mean_input = observed->mean_input.value_or(0);
  sample.mean_output = observed->mean_output.value_or(0);
  sample.completed_requests = observed->completions_per_s * m.window_s;
  sample.input_stddev = observed->input_stddev;
  sample.prefix_cache_hit_rate = observed->prefix_hit_rate;
  sample.ttft_s = observed->ttft_s;
  sample.tpot_s = observed->tpot_s;
  if (obs.prefill.read && obs.decode.read) {
    sample.prefill_ready = obs.prefill.ready_replicas;
    sample.decode_ready = obs.decode.ready_replicas;
  }
  live.state.recommendation = live.autoscaler->step(sample, cur_p, cur_d);
  live.state.history.assign(live.autoscaler->history().begin(), live.autoscaler->history().end());
  live.state.observed = *observed;
  live.state.available = true;
  live.state.error.clear();
  live.state.failures = 0;
  log_->debug("{}: measured {:.3f} req/s (in {:.0f}, out {:.0f}); provisioned {:.3f}; recommends {}P{}D", key,
              observed->requests_per_s, sample.mean_input, sample.mean_output,
              live.state.recommendation->provisioned_rate, live.state.recommendation->prefill,
              live.state.recommendation->decode);
  return live.state;
}

}  // namespace pdscaler::ctl
