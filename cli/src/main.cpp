// pdscaler: the command line of the planner and the simulator (no cluster needed).

#include <CLI/CLI.hpp>

#include <iostream>

#include "plan_command.h"
#include "simulate_command.h"

namespace {

constexpr const char* kVersion = "0.1.0";

int parse_failure(CLI::App& app, const CLI::ParseError& e) {
  // Help and version are successes; every other parse error is bad input (exit 2).
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  app.exit(e, std::cout, std::cerr);
  return pdscaler::cli::kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pdscaler::cli;
  CLI::App app{"pdscaler: SLO-aware sizing of prefill/decode-disaggregated LLM fleets"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  PlanOptions plan;
  auto& o = plan.overrides;
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "How many prefill and decode replicas a PDDeployment needs (no cluster needed)");
  plan_cmd->add_option("-f,--file", plan.file, "PDDeployment manifest (YAML or JSON; - for stdin)")
      ->required();
  plan_cmd->add_option("-o,--output", plan.output, "table | json | yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->default_str("table");
  plan_cmd->add_option("--rounding", o.rounding, "ceil (guarantees the SLO) | nearest (the paper)")
      ->check(CLI::IsMember({"ceil", "nearest"}));
  auto* tpm = plan_cmd->add_option("--tokens-per-minute", o.tokens_per_minute,
                                   "what-if load: input+output tokens per minute")
                  ->check(CLI::NonNegativeNumber);
  auto* tps = plan_cmd->add_option("--tokens-per-second", o.tokens_per_second,
                                   "what-if load: input+output tokens per second")
                  ->check(CLI::NonNegativeNumber);
  auto* rps = plan_cmd->add_option("--requests-per-second", o.requests_per_second,
                                   "what-if load: requests per second")
                  ->check(CLI::NonNegativeNumber);
  tpm->excludes(tps)->excludes(rps);
  tps->excludes(rps);
  plan_cmd->add_option("--input-length", o.input_length, "what-if mean input length (tokens)")
      ->check(CLI::PositiveNumber);
  plan_cmd->add_option("--output-length", o.output_length, "what-if mean output length (tokens)")
      ->check(CLI::PositiveNumber);
  plan_cmd->add_option("--ttft", o.ttft, "what-if TTFT target, e.g. 2s");
  plan_cmd->add_option("--tpot", o.tpot, "what-if TPOT target, e.g. 20ms");
  plan_cmd->add_option("--ttft-percentile", o.ttft_percentile, "0 = mean, else in (0,100), e.g. 90")
      ->check(CLI::Range(0.0, 99.999999));
  plan_cmd->add_option("--max-total-gpus", o.max_total_gpus, "what-if GPU budget for P + D")
      ->check(CLI::PositiveNumber);
  plan_cmd->add_option("--queue-model", o.queue_model, "mm1 (the paper) | md1 | mg1")
      ->check(CLI::IsMember({"mm1", "md1", "mg1"}));
  plan_cmd->add_option("--prefix-cache-hit-rate", o.prefix_cache_hit_rate,
                       "what-if share of input tokens served from cache, [0, 1)")
      ->check(CLI::Range(0.0, 0.999999));
  // What-if flags of the per-request model, shared by plan and simulate.
  auto model_flags = [](CLI::App* cmd, PlanOverrides& ov) {
    cmd->add_option("--attainment", ov.attainment,
                    "what-if slo.attainment: percent of requests within both TTFT and TPOT, e.g. 99")
        ->check(CLI::Range(0.0, 100.0).description("in (0, 100)"));
    cmd->add_option("--arrival-dispersion", ov.arrival_dispersion,
                    "what-if burstiness of arrivals: index of dispersion (1 = Poisson)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--output-length-stddev", ov.output_length_stddev, "what-if spread of output lengths (tokens)")
        ->check(CLI::NonNegativeNumber);
  };
  model_flags(plan_cmd, o);
  plan_cmd->add_option("--routing", o.routing, "what-if routing of both roles: least-loaded | random")
      ->check(CLI::IsMember({"least-loaded", "random"}));

  SimulateOptions so;
  CLI::App* sim_cmd = app.add_subcommand(
      "simulate", "Replay a trace or synthetic load under scaling policies: SLO attainment, GPU-hours, goodput");
  model_flags(sim_cmd, so.overrides);
  sim_cmd->add_option("-f,--file", so.file, "PDDeployment manifest (profiles, SLOs, limits)")->required();
  sim_cmd->add_option("--trace", so.trace, "trace file (default: synthetic Poisson load)");
  sim_cmd->add_option("--trace-format", so.trace_format, "azure | csv | jsonl")
      ->check(CLI::IsMember({"azure", "csv", "jsonl"}))->capture_default_str();
  sim_cmd->add_option("--timestamp-field", so.timestamp_field, "csv/jsonl: arrival time field")->capture_default_str();
  sim_cmd->add_option("--input-field", so.input_field, "csv/jsonl: input tokens field")->capture_default_str();
  sim_cmd->add_option("--output-field", so.output_field, "csv/jsonl: output tokens field")->capture_default_str();
  sim_cmd->add_option("--time-unit", so.time_unit, "csv/jsonl: s | ms | us | ns | timestamp")
      ->check(CLI::IsMember({"s", "ms", "us", "ns", "timestamp"}))->capture_default_str();
  auto* curve = sim_cmd->add_option("--load-curve", so.load_curve,
                                    "long load curve: CSV windows of rate, dispersion and mean lengths (ServeGen format)");
  curve->excludes(sim_cmd->get_option("--trace"));
  sim_cmd->add_option("--poisson-tpm", so.poisson_tpm, "synthetic load in tokens per minute (default: the spec's)")
      ->check(CLI::PositiveNumber);
  sim_cmd->add_option("--steps", so.steps, "synthetic load steps, SECONDS:TOKENS_PER_MINUTE,... e.g. 0:2e6,600:5e6");
  sim_cmd->add_flag("--ramp", so.ramp, "ramp linearly between --steps instead of stepping");
  sim_cmd->add_option("--duration", so.duration, "synthetic load length")->capture_default_str();
  sim_cmd->add_option("--burstiness", so.burstiness,
                      "synthetic: squared coefficient of variation of inter-arrival times (1 = Poisson, gamma renewal)")
      ->check(CLI::PositiveNumber);
  sim_cmd->add_option("--length-cv", so.length_cv,
                      "synthetic and curves: lognormal lengths with this coefficient of variation (default: fixed; curves 1)")
      ->check(CLI::NonNegativeNumber);
  sim_cmd->add_option("--rate-scale", so.rate_scale,
                      "this many times as many requests, same shape over time (trace copies jittered within 60 s; "
                      "a curve below 1 is thinned)")
      ->check(CLI::PositiveNumber);
  sim_cmd->add_option("--time-scale", so.time_scale, "replay this many times as fast")->check(CLI::PositiveNumber);
  sim_cmd->add_option("--policy", so.policies,
                      "static:P,D | paper | best-static | clairvoyant | hpa | dynamo | dynamo-kalman | dynamo-load | "
                      "dopd | pdscaler (repeat to compare)");
  sim_cmd->add_option("--interval", so.interval, "how often the policy is asked")->capture_default_str();
  sim_cmd->add_option("--cold-start", so.cold_start, "time from scale-up to serving")->capture_default_str();
  sim_cmd->add_option("--initial", so.initial,
                      "initial fleet P,D of adaptive policies (default: the clairvoyant's first ask)");
  sim_cmd->add_option("-o,--output", so.output, "table | json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  sim_cmd->add_option("--html", so.html, "also write a self-contained HTML report here");
  sim_cmd->add_option("--json", so.json, "also write the JSON report here");
  sim_cmd->add_option("--seed", so.seed, "first seed (rate-scale jitter, synthetic arrivals, random routing)")
      ->capture_default_str();
  sim_cmd->add_option("--seeds", so.seeds, "runs per policy, one per seed; figures are the mean with a 95% interval")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sim_cmd->add_option("--jobs", so.jobs, "simulations at once (default: one per core)")->check(CLI::NonNegativeNumber);
  sim_cmd->add_option("--target-attainment", so.target_attainment,
                      "percent of feasible requests meeting both SLOs that best-static must reach")
      ->check(CLI::Range(0.0, 100.0).description("in (0, 100)"))->capture_default_str();
  sim_cmd->add_option("--routing", so.overrides.routing,
                      "routing of both roles, simulated and modelled: least-loaded | random (default: the spec's)")
      ->check(CLI::IsMember({"least-loaded", "random"}));
  sim_cmd->add_option("--decode-step-gap", so.decode_step_gap, "host time between decode steps beyond the profile")
      ->capture_default_str();
  sim_cmd->add_option("--admission", so.admission,
                      "merged (new requests join the next decode step) | separate (an iteration of their own)")
      ->check(CLI::IsMember({"merged", "separate"}))->capture_default_str();
  sim_cmd->add_option("--admission-time", so.admission_time,
                      "length of a separate admission iteration, or 'step' (a forward pass over the admitted)")
      ->capture_default_str();

  sim_cmd->add_option("--prefill-queue", so.prefill_queue,
                      "per-engine (each request sent to an engine at arrival, as vLLM's and SGLang's routers do) | "
                      "pooled (one shared queue the prefill instances pull from, as Dynamo's; always, with --fidelity fluid)")
      ->check(CLI::IsMember({"per-engine", "pooled"}))->capture_default_str()
      ->each([&so](const std::string&) { so.prefill_queue_given = true; });
  sim_cmd->add_option("--fidelity", so.fidelity,
                      "exact (every request) | fluid (fast approximation for long loads: fluid queues, the tail model)")
      ->check(CLI::IsMember({"exact", "fluid"}))->capture_default_str();
  sim_cmd->add_option("--fluid-step", so.fluid_step, "seconds per step of the fluid approximation")
      ->check(CLI::Range(1, 60))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_failure(app, e);
  }
  if (plan_cmd->parsed()) return run_plan(plan, std::cout, std::cerr);
  if (sim_cmd->parsed()) return run_simulate(so, std::cout, std::cerr);
  return kExitBadInput;
}
