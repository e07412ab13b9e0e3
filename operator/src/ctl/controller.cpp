#include "pdscaler/ctl/controller.h"

#include <algorithm>
#include <spdlog/spdlog.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "pdscaler/api/status_codec.h"
#include "pdscaler/kube/config.h"
#include "pdscaler/reconcile/live.h"

namespace pdscaler::ctl {

using nlohmann::json;

namespace {

std::string collection(const std::string& group_version_path, const std::string& ns, const std::string& plural) {
  return group_version_path + (ns.empty() ? "" : "/namespaces/" + ns) + "/" + plural;
}

// What the API says of one target workload: /scale (replicas, selector), the object (ready
// replicas) and the pods the selector matches.
reconcile::TargetView observe_target(kube::KubeClient& client, const std::string& ns, const api::ScaleTargetRef& ref) {
  reconcile::TargetView v;
  const kube::TargetRef tr{ns, ref.api_version, ref.kind, ref.name};
  auto scale = client.get_scale(tr);
  if (!scale) {
    v.not_found = scale.error().code == kube::ErrorCode::NotFound;
    v.error = scale.error().message;
    return v;
  }
  v.known = true;
  v.spec_replicas = scale->spec_replicas;
  v.ready_replicas = scale->status_replicas;
  if (auto obj = client.get_object(tr)) {
    const auto w = api::decode_workload(*obj);
    if (obj->contains("status") && (*obj)["status"].is_object() && (*obj)["status"].contains("readyReplicas"))
      v.ready_replicas = w.value.ready_replicas;
  }
  if (scale->selector.empty()) {
    v.pods_error = "the target's /scale has no status.selector";
    return v;
  }
  auto pods = client.list("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + http::query_escape(scale->selector));
  if (!pods) {
    v.pods_error = "cannot list pods: " + pods.error().message;
    return v;
  }
  v.pods_known = true;
  for (const auto& item : pods->items) v.pods.push_back(api::decode_pod(item).value);
  return v;
}

// The members `keys` of o[member] (an empty object when it is not an object).
json pick(const json& o, const char* member, std::initializer_list<const char*> keys) {
  json out = json::object();
  if (auto m = o.find(member); m != o.end() && m->is_object())
    for (const char* k : keys)
      if (auto it = m->find(k); it != m->end()) out[k] = *it;
  return out;
}

// Only what the operator reads of an object, so that a cache of every pod stays small: the
// metadata (names, labels, times, resourceVersion), and per kind the fields observe reads.
json trim_metadata(const json& o) {
  json out = json::object();
  for (const char* k : {"apiVersion", "kind"})
    if (auto it = o.find(k); it != o.end() && it->is_string()) out[k] = *it;
  out["metadata"] = pick(o, "metadata", {"name", "namespace", "uid", "resourceVersion", "generation",
                                         "creationTimestamp", "deletionTimestamp", "labels"});
  return out;
}

json trim_pod(const json& o) {
  json out = trim_metadata(o);
  out["spec"] = pick(o, "spec", {"nodeName"});
  json status = json::object();
  const json conditions = pick(o, "status", {"conditions"}).value("conditions", json());
  if (conditions.is_array()) {
    json keep = json::array();
    for (const auto& c : conditions)
      if (c.is_object() && c.contains("type") && c["type"].is_string() && (c["type"] == "Ready" || c["type"] == "PodScheduled"))
        keep.push_back(c);
    status["conditions"] = std::move(keep);
  }
  out["status"] = std::move(status);
  return out;
}

json trim_deployment(const json& o) {
  json out = trim_metadata(o);
  out["spec"] = pick(o, "spec", {"replicas", "selector"});
  out["status"] = pick(o, "status", {"replicas", "readyReplicas"});
  return out;
}

// A PDDeployment as reconcile reads it: all but the bookkeeping of other clients (managedFields,
// and annotations such as kubectl's last-applied copy of the whole object), which would be most of
// what a cache of a thousand of them holds.
json trim_pddeployment(const json& o) {
  json out = o;
  if (auto m = out.find("metadata"); m != out.end() && m->is_object()) {
    m->erase("managedFields");
    m->erase("annotations");
  }
  return out;
}

// The Deployments a PDDeployment scales ("ns/name"), read leniently from its object.
std::vector<std::string> deployment_targets(const json& pdd) {
  std::vector<std::string> ignored, out;
  api::TolerantReader r(ignored);
  const api::ObjectMeta m = api::decode_object_meta(pdd, r);
  const json* spec = r.object(pdd, "spec", "spec");
  for (const char* role : {"prefill", "decode"}) {
    const json* rs = spec ? r.object(*spec, role, role) : nullptr;
    const json* ref = rs ? r.object(*rs, "scaleTargetRef", "scaleTargetRef") : nullptr;
    if (!ref || r.string(*ref, "kind", "kind") != "Deployment") continue;
    if (auto name = r.string(*ref, "name", "name")) out.push_back(m.namespace_ + "/" + *name);
  }
  return out;
}

// A history query that got no answer at all (worth asking again), not an answer without data.
template <class Series>
bool unreachable(const Series& h) {
  return !h && h.error().rfind("Prometheus unreachable", 0) == 0;
}

bool labels_match(const json& obj, const std::string& ns, const api::LabelSelector& sel) {
  std::vector<std::string> ignored;
  api::TolerantReader r(ignored);
  const api::ObjectMeta m = api::decode_object_meta(obj, r);
  return m.namespace_ == ns && sel.matches(m.labels);
}

// The Secrets spec.metrics.prometheus names, read at each evaluation (so a rotation is picked up).
tl::expected<PrometheusAuth, std::string> prometheus_auth(kube::KubeClient& client, const std::string& ns,
                                                          const api::MetricsSpec& m) {
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

}  // namespace

Controller::Controller(kube::KubeClient& client, SelfMetrics& metrics, ControllerOptions opts,
                       std::shared_ptr<spdlog::logger> log, MetricsSource* source)
    : client_(client), metrics_(metrics), opts_(std::move(opts)), log_(std::move(log)), source_(source),
      queue_(*opts_.clock) {
  auto on_error = [this](const kube::ApiError& e) {
    log_->warn("watch failed ({} {}): {}; retrying", kube::to_string(e.code), e.http_status, e.message);
  };
  // PDDeployments and Deployments are read by key, one at a reconcile: packed (a sixth of the
  // memory). Pods are scanned a namespace at a time: kept as trees.
  pdds_ = std::make_unique<Informer>(
      client_, collection("/apis/pdscaler.io/v1alpha1", opts_.namespace_, "pddeployments"),
      [this](const std::string& key, const json* obj) {
        index_targets(key, obj);
        queue_.add(key);
      },
      on_error, trim_pddeployment, *opts_.clock, Informer::Storage::Packed);
  deployments_ = std::make_unique<Informer>(
      client_, collection("/apis/apps/v1", opts_.namespace_, "deployments"),
      [this](const std::string& key, const json*) { on_workload_change(key); }, on_error, trim_deployment, *opts_.clock,
      Informer::Storage::Packed);
  // Pods are read from this cache at reconcile (start-up times, Pending for GPUs); their changes
  // show as the Deployment's status changes, which wake the owner.
  pods_ = std::make_unique<Informer>(
      client_, collection("/api/v1", opts_.namespace_, "pods"), [](const std::string&, const json*) {}, on_error,
      trim_pod, *opts_.clock);
  if (source_)
    poller_ = std::make_unique<MetricsPoller>(
        opts_.evaluators, [this](const std::string& key, const MetricsPoller::Job& job) { return measure(key, job); },
        [this](const std::string& key) { queue_.add(key); }, *opts_.clock);
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
      opts_.clock->sleep_for(std::chrono::seconds(1), stopped_);
    }
  }
}

void Controller::start() {
  threads_.emplace_back([this] { guarded("PDDeployment informer", [this] { pdds_->run(); }); });
  threads_.emplace_back([this] { guarded("Deployment informer", [this] { deployments_->run(); }); });
  threads_.emplace_back([this] { guarded("Pod informer", [this] { pods_->run(); }); });
  for (int i = 0; i < std::max(1, opts_.workers); ++i)
    threads_.emplace_back([this] { guarded("worker", [this] { worker(); }); });
  if (poller_) poller_->start();
  threads_.emplace_back([this] {
    // Level-triggered safety net: look at everything again now and then (targets of kinds we do
    // not watch, missed events). A ticker on fixed deadlines: the time a round takes does not push
    // the next one later, and a loop that fell more than a period behind runs one round, not a burst.
    auto next = opts_.clock->now() + opts_.resync;
    while (opts_.clock->sleep_until(next, stopped_)) {
      enqueue_all();
#ifdef __GLIBC__
      // What the last round of reconciles freed (status answers, decoded copies) goes back to the
      // system: glibc keeps freed pages inside its heaps otherwise.
      malloc_trim(0);
#endif
      next = std::max(next + opts_.resync, opts_.clock->now());
    }
  });
}

void Controller::stop() {
  if (stopped_.exchange(true)) return;
  pdds_->stop();
  deployments_->stop();
  pods_->stop();
  client_.cancel_watches();
  queue_.shutdown();
  if (poller_) poller_->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool Controller::ready() const { return pdds_->synced() && deployments_->synced() && pods_->synced(); }

void Controller::set_leader(bool leader) {
  const bool was = leader_.exchange(leader);
  if (leader && !was) enqueue_all();
}

void Controller::enqueue_all() {
  for (const auto& k : pdds_->keys()) queue_.add(k);
}

void Controller::index_targets(const std::string& key, const json* pdd) {
  std::vector<std::string> now = pdd ? deployment_targets(*pdd) : std::vector<std::string>{};
  std::lock_guard<std::mutex> lock(index_mu_);
  for (const auto& t : targets_[key])
    if (auto it = owners_.find(t); it != owners_.end() && it->second.erase(key) && it->second.empty()) owners_.erase(it);
  for (const auto& t : now) owners_[t].insert(key);
  if (now.empty()) targets_.erase(key);
  else targets_[key] = std::move(now);
}

void Controller::on_workload_change(const std::string& workload_key) {
  std::vector<std::string> wake;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (auto it = owners_.find(workload_key); it != owners_.end()) wake.assign(it->second.begin(), it->second.end());
  }
  for (const auto& k : wake) queue_.add(k);
}

std::optional<reconcile::TargetView> Controller::observe_cached(const std::string& ns, const api::ScaleTargetRef& ref) const {
  if (ref.kind != "Deployment" || ref.api_version != "apps/v1" || !deployments_->synced() || !pods_->synced())
    return std::nullopt;
  reconcile::TargetView v;
  const auto obj = deployments_->get(ns + "/" + ref.name);
  if (!obj) {
    v.not_found = true;
    v.error = fmt::format("deployments.apps \"{}\" not found", ref.name);
    return v;
  }
  const api::Workload w = api::decode_workload(*obj).value;
  v.known = true;
  v.spec_replicas = w.spec_replicas;
  const json& st = (*obj)["status"];
  v.ready_replicas = st.is_object() && st.contains("readyReplicas") ? w.ready_replicas : w.status_replicas;
  if (!w.selector) {
    v.pods_error = "the Deployment has no spec.selector";
    return v;
  }
  const api::LabelSelector sel = *w.selector;
  v.pods_known = true;
  for (const auto& p : pods_->select_in(ns, [&](const std::string&, const json& o) { return labels_match(o, ns, sel); }))
    v.pods.push_back(api::decode_pod(p).value);
  return v;
}

void Controller::remember_write(const std::string& ns, const api::ScaleTargetRef& ref, const api::Scale& written) {
  if (ref.kind != "Deployment" || ref.api_version != "apps/v1") return;
  const std::string key = ns + "/" + ref.name;
  auto obj = deployments_->get(key);
  if (!obj || !(*obj)["spec"].is_object() || !(*obj)["metadata"].is_object()) return;
  // Our write, until the watch brings it (the informer keeps the newer resourceVersion): the next
  // look must not take the old count for someone else's edit.
  (*obj)["spec"]["replicas"] = written.spec_replicas;
  if (!written.resource_version.empty()) (*obj)["metadata"]["resourceVersion"] = written.resource_version;
  deployments_->update_local(key, *obj);
}

void Controller::worker() {
  // As controller-runtime does: no reconcile before every cache has its first list, so a reconcile
  // never reads the API for what a cache will hold.
  while (!stopped_ && !ready()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
    forget_state(key);
    return;
  }

  const api::PDDeployment* previous = nullptr;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (auto it = decoded_.find(key); it != decoded_.end()) previous = &it->second;
  }
  api::PDDeployment pdd = api::decode_pddeployment(*obj, previous);
  for (const auto& w : pdd.warnings) log_->warn("{}: {}", key, w);
  log_->debug("{}: reconciling generation {} resourceVersion {}", key, pdd.metadata.generation,
              pdd.metadata.resource_version);
  reconcile::TargetView pv, dv;
  if (pdd.spec) {
    // From the caches for Deployments; other kinds (StatefulSets, custom resources with /scale)
    // are read from the API.
    auto cached_p = observe_cached(ns, pdd.spec->prefill_target);
    auto cached_d = observe_cached(ns, pdd.spec->decode_target);
    pv = cached_p ? std::move(*cached_p) : observe_target(client_, ns, pdd.spec->prefill_target);
    dv = cached_d ? std::move(*cached_d) : observe_target(client_, ns, pdd.spec->decode_target);
  }
  reconcile::Observation obs = reconcile::observe(pdd, pv, dv, opts_.clock->wall());
  if (obs.spec) {
    for (const auto* t : {&obs.prefill, &obs.decode})
      if (t->read && !t->pods.read) log_->debug("{}: {}", key, t->pods.error);
    if (obs.spec->metrics) {
      obs.live = evaluate_live(key, obs);
    } else {
      std::lock_guard<std::mutex> lock(state_mu_);
      live_.erase(key);
      if (poller_) poller_->forget(key);
    }
  }

  const reconcile::Intent intent = reconcile::intend(obs);
  reconcile::WriteOutcome pw, dw;
  for (auto [role, ri, out] : {std::tuple{reconcile::Role::Prefill, &intent.prefill, &pw},
                               std::tuple{reconcile::Role::Decode, &intent.decode, &dw}}) {
    if (!ri->write) continue;
    const auto& ref = role == reconcile::Role::Prefill ? obs.spec->prefill_target : obs.spec->decode_target;
    out->attempted = true;
    auto r = client_.set_scale({ns, ref.api_version, ref.kind, ref.name}, *ri->write);
    out->ok = static_cast<bool>(r);
    if (!r) out->error = r.error().message;
    else remember_write(ns, ref, *r);
    log_->info("{}: scale {} {}/{} to {}: {}", key, reconcile::to_string(role), ref.kind, ref.name, *ri->write,
               r ? "ok" : r.error().message);
  }

  const reconcile::Report rep = reconcile::report(obs, intent, pw, dw);
  bool failed = false;
  if (rep.status != obs.status) {
    const json patch = api::merge_patch(api::encode_status(obs.status), api::encode_status(rep.status));
    log_->trace("{}: status change {}", key, patch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    auto r = client_.patch_pddeployment_status(ns, name, patch);
    if (r) {
      log_->debug("{}: status written", key);
      pdds_->update_local(key, *r);  // the server's newest copy, so the next look sees our status
    } else if (r.error().code != kube::ErrorCode::NotFound) {
      log_->warn("{}: status update failed: {}", key, r.error().message);
      failed = true;
    }
  }
  const json involved = {{"apiVersion", api::kGroupVersion},
                         {"kind", api::kKind},
                         {"namespace", ns},
                         {"name", name},
                         {"uid", pdd.metadata.uid},
                         {"resourceVersion", pdd.metadata.resource_version}};
  for (const auto& e : rep.events) {
    log_->info("{}: event {} {}: {}", key, e.type, e.reason, e.message);
    auto r = client_.create_event(ns, {involved, e.type, e.reason, e.message, "Reconcile"});
    if (!r) log_->warn("{}: cannot record event {}: {}", key, e.reason, r.error().message);
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    decoded_[key] = std::move(pdd);
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
  // Nothing else may wake us when pods wait for GPUs or a capacity limit runs out: look again then.
  if (const auto next_s = reconcile::recheck_after_s(obs, intent))
    queue_.add_after(key, std::chrono::milliseconds(static_cast<long long>(std::max(1.0, *next_s + 0.5) * 1000)));
  // With spec.metrics the poller wakes us at each new measurement.
}

Controller::Live& Controller::live_of(const std::string& key) {
  std::lock_guard<std::mutex> lock(state_mu_);
  return live_[key];
}

void Controller::forget_state(const std::string& key) {
  std::lock_guard<std::mutex> lock(state_mu_);
  live_.erase(key);
  decoded_.erase(key);
  if (poller_) poller_->forget(key);
}

MetricsPoller::Result Controller::measure(const std::string& key, const MetricsPoller::Job& job) {
  MetricsPoller::Result r;
  r.at = opts_.clock->wall();
  auto auth = prometheus_auth(client_, job.namespace_, job.metrics);
  if (!auth) {
    r.load = tl::unexpected(auth.error());
    return r;
  }
  if (job.want_history) {
    // A new policy reads the last seven and a half days of the rate and the work, so its seasonal
    // forecast works from the first evaluation instead of a day (a week) later: the day and the
    // week before with the hour before each for the level, one point a minute (10,800 points,
    // inside Prometheus' 11,000 a series). Prometheus keeps the history; no store of our own.
    const double now_s = api::to_epoch_seconds(r.at);
    const double from_s = now_s - 7.5 * 86400;
    r.history = source_->history(job.metrics, *auth, HistorySeries::Requests, from_s, now_s, 60);
    if (*r.history) {
      r.input_history = source_->history(job.metrics, *auth, HistorySeries::InputTokens, from_s, now_s, 60);
      // Not asked again within a round once Prometheus stopped answering (each would wait out
      // the client's timeout); the controller retries the whole history then.
      if (!unreachable(*r.input_history))
        r.output_history = source_->history(job.metrics, *auth, HistorySeries::OutputTokens, from_s, now_s, 60);
    }
  }
  r.load = source_->observe(job.metrics, *auth);
  log_->trace("{}: measured in {:.3f}s", key, std::chrono::duration<double>(opts_.clock->wall() - r.at).count());
  return r;
}

reconcile::LiveLoad Controller::evaluate_live(const std::string& key, const reconcile::Observation& obs) {
  Live& live = live_of(key);
  const api::PDDeploymentSpec& d = *obs.spec;
  const auto& m = *d.metrics;
  const std::int64_t generation = obs.metadata.generation;
  if (live.generation != generation || !live.autoscaler) {
    // A new spec: a new policy (its profile, SLOs or windows may have changed). The load history
    // carries over: from the policy it replaces, or after a restart from status; the calibration
    // only while the spec is the one it was learnt under.
    reconcile::SavedLiveState saved;
    std::optional<double> startup_s;
    if (live.autoscaler) {
      saved.history.assign(live.autoscaler->history().begin(), live.autoscaler->history().end());
      if (reconcile::startup_measured(live.state.startup_source)) startup_s = live.state.startup_s;
    } else {
      saved = reconcile::saved_live_state(obs.status, generation);
      startup_s = saved.measured_startup_s;
      if (!saved.history.empty())
        log_->info("{}: restored {} evaluations{} from status", key, saved.history.size(),
                   saved.calibration ? " and the calibration" : "");
    }
    live.autoscaler = std::make_unique<planner::Autoscaler>(d.plan, reconcile::autoscaler_config(m));
    // The window the history was kept for: the start-up time measured before, until it is
    // measured again at the next evaluation.
    if (startup_s) {
      live.autoscaler->set_startup_s(*startup_s);
      // Saved again with the status written before the next measurement, so a second restart
      // in between still finds it.
      if (!reconcile::startup_measured(live.state.startup_source)) {
        live.state.startup_s = *startup_s;
        live.state.startup_source = "measured before the restart (restored from status)";
      }
    }
    live.autoscaler->restore(saved.history, saved.calibration);
    live.generation = generation;
    live.seasonal_seeded = false;
    live.state.generation = generation;
    live.state.history.assign(live.autoscaler->history().begin(), live.autoscaler->history().end());
  }
  if (!poller_) {
    live.state.evaluated_at = api::whole_seconds(obs.now);
    live.state.available = false;
    live.state.error = "no metrics source in this operator";
    return live.state;
  }
  // The poller measures on its own timer (at once for a new generation); a reconcile uses the
  // newest measurement it has not used yet, and otherwise keeps the last evaluation.
  poller_->want(key, {obs.metadata.namespace_, m, !live.seasonal_seeded},
                std::chrono::milliseconds(static_cast<long long>(m.evaluation_interval_s * 1000)), generation);
  auto r = poller_->take(key);
  if (!r) return live.state;
  auto lost = [](const std::optional<MetricsPoller::Result::Series>& h) { return h && unreachable(*h); };
  if (r->history && *r->history && (lost(r->input_history) || lost(r->output_history))) {
    // Prometheus stopped answering after the rate's history: all of it again at the next
    // evaluation rather than the tokens' forecast a day late.
    log_->debug("{}: the tokens' history not read yet: Prometheus unreachable", key);
  } else if (r->history) {
    if (*r->history) {
      // The work's history is a help, not a condition: without it the tokens' forecast starts a
      // day after the policy does.
      static const std::vector<std::pair<double, double>> none;
      auto points = [&](const std::optional<MetricsPoller::Result::Series>& h, const char* what) -> const auto& {
        if (h && !*h) log_->debug("{}: no {} history: {}", key, what, h->error());
        return h && *h ? **h : none;
      };
      const auto& in = points(r->input_history, "input tokens/s");
      const auto& out = points(r->output_history, "output tokens/s");
      live.autoscaler->seed_seasonal(**r->history, in, out);
      live.seasonal_seeded = true;
      log_->info("{}: seasonal forecast seeded with {} points of the last 7.5 days ({} and {} of input and "
                 "output tokens/s)", key, (*r->history)->size(), in.size(), out.size());
    } else {
      // Retried at the next evaluation while Prometheus cannot answer; a Prometheus that answers
      // without history is not asked again.
      log_->debug("{}: no rate history yet: {}", key, r->history->error());
      if (!unreachable(*r->history)) live.seasonal_seeded = true;
    }
  }
  reconcile::Measurement measurement{r->at, std::move(r->load)};
  reconcile::evaluate(*live.autoscaler, m, measurement, obs, live.state);
  if (!live.state.available)
    log_->warn("{}: metrics unavailable ({} in a row): {}", key, live.state.failures, live.state.error);
  else
    log_->debug("{}: measured {:.3f} req/s in {:.2f}s; provisioned {:.3f}; recommends {}P{}D", key,
                live.state.observed.requests_per_s, r->seconds, live.state.recommendation->provisioned_rate,
                live.state.recommendation->prefill, live.state.recommendation->decode);
  return live.state;
}

}  // namespace pdscaler::ctl
