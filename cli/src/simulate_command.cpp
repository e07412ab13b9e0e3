#include "simulate_command.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/planner/plan.h"
#include "pdscaler/sim/policies.h"
#include "pdscaler/sim/references.h"
#include "plan_command.h"
#include "simulate_report.h"

namespace pdscaler::cli {
namespace {

std::optional<double> duration_arg(const std::string& flag, const std::string& v, bool allow_zero, std::ostream& err) {
  auto d = api::parse_duration(v);
  if (!d || *d < 0 || (!allow_zero && *d == 0)) {
    err << "pdscaler: " << flag << ": expected a " << (allow_zero ? "" : "positive ") << "duration like \"15s\", got \""
        << v << "\"\n";
    return std::nullopt;
  }
  return d;
}

// What `--policy` names; parsed before anything runs so a typo costs nothing.
struct PolicySpec {
  std::string spec;
  enum class Kind { Static, Paper, BestStatic, Adaptive } kind = Kind::Adaptive;
  int prefill = 0, decode = 0;  // static:P,D
};

std::optional<PolicySpec> parse_policy(const std::string& spec, std::ostream& err) {
  static const char* kAdaptive[] = {"hpa", "dynamo", "dynamo-kalman", "dynamo-load", "dopd", "pdscaler", "pdscaler-trend",
                                    "clairvoyant"};
  PolicySpec p{spec};
  if (spec == "paper") p.kind = PolicySpec::Kind::Paper;
  else if (spec == "best-static") p.kind = PolicySpec::Kind::BestStatic;
  else if (spec.rfind("static:", 0) == 0) {
    p.kind = PolicySpec::Kind::Static;
    char tail = 0;
    if (std::sscanf(spec.c_str() + 7, "%d,%d%c", &p.prefill, &p.decode, &tail) != 2 || p.prefill < 0 || p.decode < 0) {
      err << "pdscaler: --policy: expected static:P,D with whole numbers, got \"" << spec << "\"\n";
      return std::nullopt;
    }
  } else if (std::find(std::begin(kAdaptive), std::end(kAdaptive), spec) == std::end(kAdaptive)) {
    err << "pdscaler: --policy: unknown policy \"" << spec
        << "\" (expected static:P,D, paper, best-static, clairvoyant, hpa, dynamo, dynamo-kalman, dynamo-load, dopd, "
           "pdscaler or pdscaler-trend)\n";
    return std::nullopt;
  }
  return p;
}

// The load of one seed, and how to describe it.
struct LoadBuilder {
  LoadBuilder(const SimulateOptions& opts, const planner::PlanInput& model) : o(opts), m(model) {}
  const SimulateOptions& o;
  const planner::PlanInput& m;
  double duration_s = 0;
  sim::Trace trace;  // a parsed trace, time-scaled (rate scaling is per seed)
  std::vector<sim::RateSegment> schedule;  // synthetic or curve
  sim::LengthModel lengths;
  std::string description;

  std::shared_ptr<const sim::Load> build(uint64_t seed) const {
    if (!o.trace.empty()) {
      if (o.rate_scale == 1) return sim::trace_load(trace);
      return sim::trace_load(sim::densify(trace, o.rate_scale, 60, seed));
    }
    return sim::renewal_load(schedule, duration_s, lengths, seed);
  }
};

bool prepare_load(LoadBuilder& b, std::ostream& err) {
  const auto& o = b.o;
  const auto& m = b.m;
  std::string error;
  if (!o.trace.empty()) {
    auto text = read_input(o.trace, error);
    if (!text) {
      err << "pdscaler: " << error << "\n";
      return false;
    }
    sim::ParseResult t;
    if (o.trace_format == "azure") {
      t = sim::parse_azure_csv(*text);
    } else {
      sim::Fields f{o.timestamp_field, o.input_field, o.output_field, sim::TimeUnit::Seconds};
      if (o.time_unit == "ms") f.unit = sim::TimeUnit::Milliseconds;
      else if (o.time_unit == "us") f.unit = sim::TimeUnit::Microseconds;
      else if (o.time_unit == "ns") f.unit = sim::TimeUnit::Nanoseconds;
      else if (o.time_unit == "timestamp") f.unit = sim::TimeUnit::Timestamp;
      t = o.trace_format == "csv" ? sim::parse_csv(*text, f) : sim::parse_jsonl(*text, f);
    }
    if (!t) {
      err << "pdscaler: " << o.trace << ": " << t.error() << "\n";
      return false;
    }
    b.trace = o.time_scale != 1 ? sim::scale(*t, o.time_scale) : *t;
    b.duration_s = b.trace.duration_s;
    b.description = fmt::format("{} ({} requests over {:.0f} s; rate x{:g}, time x{:g})", o.trace,
                                t->requests.size(), b.trace.duration_s, o.rate_scale, o.time_scale);
    return true;
  }
  if (!o.load_curve.empty()) {
    auto text = read_input(o.load_curve, error);
    if (!text) {
      err << "pdscaler: " << error << "\n";
      return false;
    }
    auto windows = sim::parse_load_curve(*text);
    if (!windows) {
      err << "pdscaler: " << o.load_curve << ": " << windows.error() << "\n";
      return false;
    }
    const double step = (*windows)[1].start_s - (*windows)[0].start_s;
    b.schedule = sim::curve_schedule(*windows, o.rate_scale, o.time_scale);
    b.duration_s = ((*windows).back().start_s - (*windows).front().start_s + step) / o.time_scale;
    const double cv = o.length_cv.value_or(1);
    b.lengths = sim::LengthModel::lognormal(m.workload.input_length, m.workload.output_length, cv, cv);
    size_t gaps = 0;
    for (const auto& w : *windows) gaps += w.gap;
    b.description = fmt::format(
        "{} ({} windows of {:.0f} s, {} gaps interpolated; rate x{:g} (dispersion thinned), time x{:g}; lognormal "
        "lengths at the windows' means, CV {:g})",
        o.load_curve, windows->size(), step, gaps, o.rate_scale, o.time_scale, cv);
    return true;
  }
  // Synthetic arrivals at the spec's lengths, at a rate from --poisson-tpm, --steps, or the spec.
  auto duration = duration_arg("--duration", o.duration, false, err);
  if (!duration) return false;
  b.duration_s = *duration / o.time_scale;
  const double per_request = m.workload.input_length + m.workload.output_length;
  auto rps = [&](double tpm) { return tpm / 60 / per_request; };
  const double dispersion = o.burstiness.value_or(1);
  if (!o.steps.empty()) {
    std::stringstream ss(o.steps);
    std::string part;
    while (std::getline(ss, part, ',')) {
      const auto colon = part.find(':');
      double at = 0, tpm = 0;
      try {
        if (colon == std::string::npos) throw std::invalid_argument(part);
        at = std::stod(part.substr(0, colon));
        tpm = std::stod(part.substr(colon + 1));
      } catch (const std::exception&) {
        err << "pdscaler: --steps: expected SECONDS:TOKENS_PER_MINUTE[,...], got \"" << part << "\"\n";
        return false;
      }
      sim::RateSegment s;
      s.start_s = at / o.time_scale;
      s.requests_per_s = rps(tpm) * o.rate_scale * o.time_scale;
      s.ramp = o.ramp;
      s.dispersion = dispersion;
      b.schedule.push_back(s);
    }
  } else {
    const double tpm = o.poisson_tpm ? *o.poisson_tpm
                       : m.workload.rate_unit == planner::RateUnit::TokensPerSecond ? m.workload.rate * 60
                                                                                    : m.workload.rate * per_request * 60;
    sim::RateSegment s;
    s.requests_per_s = rps(tpm) * o.rate_scale * o.time_scale;
    s.dispersion = dispersion;
    b.schedule.push_back(s);
  }
  b.lengths = o.length_cv ? sim::LengthModel::lognormal(m.workload.input_length, m.workload.output_length,
                                                        *o.length_cv, *o.length_cv)
                          : sim::LengthModel::fixed(m.workload.input_length, m.workload.output_length);
  b.description = fmt::format("synthetic {} arrivals (inter-arrival SCV {:g}) over {:.0f} s, {} lengths {:.0f}/{:.0f}",
                              dispersion == 1 ? "Poisson" : "gamma-renewal", dispersion, b.duration_s,
                              o.length_cv ? fmt::format("lognormal (CV {:g})", *o.length_cv) : std::string("fixed"),
                              m.workload.input_length, m.workload.output_length);
  return true;
}

// Runs tasks on `jobs` threads; each task writes only its own result.
void run_all(std::vector<std::function<void()>>& tasks, int jobs) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) tasks[i]();
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < jobs && static_cast<size_t>(k) < tasks.size(); ++k) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace

int run_simulate(const SimulateOptions& o, std::ostream& out, std::ostream& err) {
  auto decoded = load_manifest(o.file, err);
  if (!decoded) return kExitBadInput;
  if (auto bad = apply_overrides(o.overrides, *decoded)) {
    err << "pdscaler: " << *bad << "\n";
    return kExitBadInput;
  }
  const planner::PlanInput& m = decoded->plan;
  auto interval = duration_arg("--interval", o.interval, false, err);
  auto cold = duration_arg("--cold-start", o.cold_start, true, err);
  auto gap = duration_arg("--decode-step-gap", o.decode_step_gap, true, err);
  if (!interval || !cold || !gap) return kExitBadInput;
  std::optional<double> admission_s = -1.0;
  if (o.admission_time != "step") admission_s = duration_arg("--admission-time", o.admission_time, true, err);
  if (!admission_s) return kExitBadInput;
  if (!(o.rate_scale > 0) || !(o.time_scale > 0)) {
    err << "pdscaler: --rate-scale and --time-scale must be positive\n";
    return kExitBadInput;
  }
  if (o.seeds < 1) {
    err << "pdscaler: --seeds: expected at least 1, got " << o.seeds << "\n";
    return kExitBadInput;
  }
  if (o.target_attainment && !(*o.target_attainment > 0 && *o.target_attainment < 100)) {
    err << "pdscaler: --target-attainment: expected a percentage in (0, 100), got " << *o.target_attainment << "\n";
    return kExitBadInput;
  }
  if (!o.trace.empty() + !o.load_curve.empty() > 1) {
    err << "pdscaler: --trace and --load-curve exclude each other\n";
    return kExitBadInput;
  }
  std::vector<PolicySpec> specs;
  for (const auto& ps : o.policies) {
    auto p = parse_policy(ps, err);
    if (!p) return kExitBadInput;
    specs.push_back(*p);
  }
  std::optional<sim::Target> initial;
  if (!o.initial.empty()) {
    sim::Target t;
    char tail = 0;
    if (std::sscanf(o.initial.c_str(), "%d,%d%c", &t.prefill, &t.decode, &tail) != 2 || t.prefill < 0 || t.decode < 0) {
      err << "pdscaler: --initial: expected P,D, got \"" << o.initial << "\"\n";
      return kExitBadInput;
    }
    initial = t;
  }

  LoadBuilder builder(o, m);
  if (!prepare_load(builder, err)) return kExitBadInput;
  std::vector<uint64_t> seeds;
  for (int k = 0; k < o.seeds; ++k) seeds.push_back(o.seed + static_cast<uint64_t>(k));
  std::vector<std::shared_ptr<const sim::Load>> loads;
  for (uint64_t s : seeds) loads.push_back(builder.build(s));
  if (loads.front()->expected_requests() <= 0) {
    err << "pdscaler: the load has no requests\n";
    return kExitBadInput;
  }

  sim::FleetConfig base;
  base.model = m;
  base.cold_start_s = *cold;
  base.interval_s = *interval;
  base.prefill_routing = m.prefill.routing;
  base.decode_routing = m.decode.routing;
  base.engine.decode_step_gap_s = *gap;
  base.engine.separate_admission = o.admission == "separate";
  base.engine.admission_s = *admission_s;
  base.fluid = o.fidelity == "fluid";
  base.fluid_step_s = o.fluid_step;
  // The fluid approximation's prefill queue is pooled: its default, and the only one it has.
  base.pooled_prefill = o.prefill_queue == "pooled" || (base.fluid && !o.prefill_queue_given);
  if (base.fluid && !base.pooled_prefill) {
    err << "pdscaler: --prefill-queue per-engine needs --fidelity exact (the fluid approximation's prefill queue is pooled)\n";
    return kExitBadInput;
  }
  sim::ClairvoyantConfig cc;
  cc.cold_start_s = *cold;
  cc.interval_s = *interval;
  const double target = o.target_attainment.value_or(m.slo.attainment.value_or(99)) / 100;

  // Every adaptive policy starts from the same fleet, serving from t = 0: the one the clairvoyant
  // reference would ask for the first cold start plus interval (or --initial).
  std::vector<sim::Target> starts;
  for (const auto& l : loads) starts.push_back(initial ? *initial : sim::clairvoyant_start(m, *l, cc));

  std::vector<PolicyRuns> results(specs.size());
  std::vector<std::function<void()>> tasks;
  std::mutex log_mu;
  for (size_t pi = 0; pi < specs.size(); ++pi) {
    results[pi].spec = specs[pi].spec;
    results[pi].runs.resize(seeds.size());
    for (size_t si = 0; si < seeds.size(); ++si) {
      tasks.push_back([&, pi, si] {
        const PolicySpec& ps = specs[pi];
        const auto& load = loads[si];
        PolicyRun& run = results[pi].runs[si];
        run.seed = seeds[si];
        sim::FleetConfig cfg = base;
        cfg.seed = seeds[si];
        const auto start = std::chrono::steady_clock::now();
        double last_shown = 0;
        const std::string label = seeds.size() > 1 ? fmt::format("{} seed {}", ps.spec, seeds[si]) : ps.spec;
        auto log = [&](const std::string& line) {
          std::lock_guard<std::mutex> lock(log_mu);
          err << "[simulate] " << line << "\n";
        };
        auto progress = [&](double f) {
          const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          if (el > 1 && f - last_shown >= 0.2) {
            log(fmt::format("{}: {:.0f}% of arrivals replayed ({:.1f} s)", label, 100 * f, el));
            last_shown = f;
          }
        };
        if (ps.kind == PolicySpec::Kind::BestStatic) {
          auto b = sim::find_best_static(*load, cfg, target, [&](const std::string& line) {
            const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (el > 1) log(fmt::format("{}: tried {}", label, line.substr(line.find(':') + 2)));
          });
          run.found = b.found;
          run.result = b.found ? std::move(b.result) : sim::SimResult{};
          run.result.summary.policy = "best-static";
        } else {
          std::unique_ptr<sim::Policy> policy;
          sim::Target fleet = starts[si];
          auto adaptive = [&](auto&& make) { policy = make(); };
          switch (ps.kind) {
            case PolicySpec::Kind::Static:
              fleet = {ps.prefill, ps.decode};
              policy = std::make_unique<sim::StaticPolicy>(ps.prefill, ps.decode, ps.spec);
              break;
            case PolicySpec::Kind::Paper: {
              auto p = sim::make_paper_policy(m, *load);
              fleet = p->fleet();
              policy = std::move(p);
              break;
            }
            default:
              if (ps.spec == "hpa") adaptive([&] { return sim::make_hpa_policy(m); });
              else if (ps.spec == "dynamo") adaptive([&] { return sim::make_dynamo_policy(m); });
              else if (ps.spec == "dynamo-kalman") adaptive([&] { return sim::make_dynamo_policy(m, {180, true}); });
              else if (ps.spec == "dynamo-load") adaptive([&] { return sim::make_dynamo_load_policy(m); });
              else if (ps.spec == "dopd") adaptive([&] { return sim::make_dopd_policy(m); });
              else if (ps.spec == "clairvoyant") adaptive([&] { return sim::make_clairvoyant_policy(m, load, cc); });
              else {
                planner::AutoscalerConfig c;
                c.startup_s = *cold;
                c.interval_s = *interval;
                c.seasonal = ps.spec != "pdscaler-trend";  // the same without the daily seasonal forecast
                policy = sim::make_pdscaler_policy(m, c, ps.spec);
              }
          }
          cfg.initial_prefill = fleet.prefill;
          cfg.initial_decode = fleet.decode;
          run.result = sim::simulate(*load, cfg, *policy, progress);
        }
        run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      });
    }
  }
  const int jobs = o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  run_all(tasks, jobs);

  SimSettings settings;
  settings.load = builder.description;
  settings.cold_start_s = *cold;
  settings.interval_s = *interval;
  settings.initial = initial ? fmt::format("{}P{}D (--initial) for adaptive policies", initial->prefill, initial->decode)
                             : fmt::format("{}P{}D for adaptive policies (the clairvoyant's first ask; per seed: ",
                                           starts.front().prefill, starts.front().decode);
  if (!initial) {
    for (size_t i = 0; i < starts.size(); ++i)
      settings.initial += fmt::format("{}{}P{}D", i ? ", " : "", starts[i].prefill, starts[i].decode);
    settings.initial += ")";
  }
  settings.initial += ", static ones at their own fleet; all serving from t = 0";
  settings.limits = fmt::format("prefill {}..{}, decode {}..{}", m.prefill.min_replicas, m.prefill.max_replicas,
                                m.decode.min_replicas, m.decode.max_replicas);
  settings.seeds = seeds;
  settings.target = target;
  settings.sizing = m.slo.attainment ? fmt::format("planners size for {:g}% of requests (slo.attainment)", *m.slo.attainment)
                                     : std::string("planners size for means (the paper's model)");
  auto routing_name = [](planner::Routing r) { return r == planner::Routing::Random ? "random" : "least-loaded"; };
  settings.routing = m.prefill.routing == m.decode.routing
                         ? std::string(routing_name(m.prefill.routing))
                         : fmt::format("prefill {}, decode {}", routing_name(m.prefill.routing), routing_name(m.decode.routing));
  if (base.pooled_prefill)
    settings.routing = fmt::format("prefill from one pooled queue, decode {}", routing_name(m.decode.routing));
  std::vector<std::string> mech;
  if (*gap > 0) mech.push_back("decode step gap " + api::format_duration(*gap));
  if (base.engine.separate_admission)
    mech.push_back("separate admission (" + (o.admission_time == "step" ? std::string("a forward pass")
                                                                         : api::format_duration(*admission_s)) + ")");
  for (const auto& s : mech) settings.engine += (settings.engine.empty() ? "" : ", ") + s;
  if (settings.engine.empty()) settings.engine = "profiles only";
  if (base.fluid)
    settings.engine += fmt::format("; FLUID approximation in {} s steps (tail model per step, fluid queues; percentiles are means)",
                                   o.fluid_step);

  if (o.output == "json") out << render_json(settings, *decoded, results);
  else out << render_table(settings, *decoded, results);
  for (const auto& [path, text] : {std::pair{o.html, std::function<std::string()>([&] {
                                       return render_html(settings, *decoded, results);
                                     })},
                                     std::pair{o.json, std::function<std::string()>([&] {
                                       return render_json(settings, *decoded, results);
                                     })}}) {
    if (path.empty()) continue;
    std::ofstream f(path);
    f << text();
    if (!f) {
      err << "pdscaler: cannot write " << path << "\n";
      return kExitBadInput;
    }
  }
  return kExitOk;
}

}  // namespace pdscaler::cli
