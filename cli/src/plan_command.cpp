#include "plan_command.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "plan_render.h"
#include "pdscaler/planner/plan.h"

namespace pdscaler::cli {

std::optional<std::string> read_input(const std::string& path, std::string& error) {
  std::ostringstream buf;
  if (path == "-") {
    buf << std::cin.rdbuf();
    return buf.str();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  buf << f.rdbuf();
  if (f.bad()) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return buf.str();
}

std::optional<std::string> apply_overrides(const PlanOverrides& o, api::Manifest& d) {
  auto& w = d.plan.workload;
  auto& slo = d.plan.slo;
  if (o.tokens_per_minute) {
    w.rate_unit = planner::RateUnit::TokensPerSecond;
    w.rate = *o.tokens_per_minute / 60;
    d.rate_field = "tokensPerMinute";
  }
  if (o.tokens_per_second) {
    w.rate_unit = planner::RateUnit::TokensPerSecond;
    w.rate = *o.tokens_per_second;
    d.rate_field = "tokensPerSecond";
  }
  if (o.requests_per_second) {
    w.rate_unit = planner::RateUnit::RequestsPerSecond;
    w.rate = *o.requests_per_second;
    d.rate_field = "requestsPerSecond";
  }
  if (o.input_length) {
    // Keep the shape of the length spread and move its mean.
    double mean = w.input_length;
    if (!w.input_length_distribution.empty()) {
      double total = 0, sum = 0;
      for (const auto& b : w.input_length_distribution) {
        total += b.weight;
        sum += b.weight * b.length;
      }
      mean = sum / total;
      for (auto& b : w.input_length_distribution) b.length *= *o.input_length / mean;
    }
    if (w.input_length_stddev && mean > 0) *w.input_length_stddev *= *o.input_length / mean;
    w.input_length = *o.input_length;
  }
  if (o.output_length) {
    // As for inputs: the histogram's shape kept, its mean moved.
    if (!w.output_length_distribution.empty() && w.output_length > 0)
      for (auto& b : w.output_length_distribution) b.length *= *o.output_length / w.output_length;
    w.output_length = *o.output_length;
  }
  if (o.ttft) {
    auto v = api::parse_duration(*o.ttft);
    if (!v || *v <= 0) return "--ttft: expected a positive duration like \"2s\", got \"" + *o.ttft + "\"";
    slo.ttft_s = *v;
  }
  if (o.tpot) {
    auto v = api::parse_duration(*o.tpot);
    if (!v || *v <= 0) return "--tpot: expected a positive duration like \"20ms\", got \"" + *o.tpot + "\"";
    slo.tpot_s = *v;
  }
  if (o.ttft_percentile) slo.ttft_percentile = *o.ttft_percentile;
  if (o.max_total_gpus) d.plan.max_total_gpus = *o.max_total_gpus;
  if (o.rounding) d.plan.rounding = *o.rounding == "nearest" ? planner::Rounding::Nearest
                                                             : planner::Rounding::Ceil;
  if (o.queue_model) {
    const auto& q = *o.queue_model;
    d.plan.prefill.queue_model = q == "mg1"   ? planner::QueueModel::MG1
                                 : q == "md1" ? planner::QueueModel::MD1
                                              : planner::QueueModel::MM1;
    if (q == "mg1" && !w.input_length_stddev && w.input_length_distribution.empty())
      return "--queue-model mg1 needs the spread of input lengths: the manifest has neither "
             "spec.workload.inputLengthStdDev nor spec.workload.inputLengthDistribution";
  }
  if (o.prefix_cache_hit_rate) w.prefix_cache_hit_rate = *o.prefix_cache_hit_rate;
  if (o.attainment) {
    slo.attainment = *o.attainment;
    if (slo.ttft_percentile > 0 && !o.ttft_percentile) slo.ttft_percentile = 0;  // attainment covers TTFT per request
    if (slo.ttft_percentile > 0)
      return "--attainment and --ttft-percentile exclude each other: the attainment target covers TTFT per request";
  }
  if (o.arrival_dispersion) w.arrival_dispersion = *o.arrival_dispersion;
  if (o.output_length_stddev) w.output_length_stddev = *o.output_length_stddev;
  if (o.routing) {
    const auto r = *o.routing == "random" ? planner::Routing::Random : planner::Routing::LeastLoaded;
    d.plan.prefill.routing = d.plan.decode.routing = r;
  }
  return std::nullopt;
}

std::optional<api::Manifest> load_manifest(const std::string& path, std::ostream& err) {
  std::string error;
  auto text = read_input(path, error);
  if (!text) {
    err << "pdscaler: " << error << "\n";
    return std::nullopt;
  }
  auto decoded = api::decode_manifest(*text);
  if (!decoded) {
    const std::string source = path == "-" ? "<stdin>" : path;
    for (const auto& e : decoded.error()) err << "pdscaler: " << api::format_error(e, source) << "\n";
    return std::nullopt;
  }
  return std::move(*decoded);
}

int run_plan(const PlanOptions& opts, std::ostream& out, std::ostream& err) {
  auto decoded = load_manifest(opts.file, err);
  if (!decoded) return kExitBadInput;
  api::Manifest& d = *decoded;
  if (auto bad = apply_overrides(opts.overrides, d)) {
    err << "pdscaler: " << *bad << "\n";
    return kExitBadInput;
  }

  const planner::Plan p = planner::plan(d.plan);
  if (opts.output == "table") {
    out << render_table(d, p);
  } else {
    const auto j = plan_to_json(d, p);
    out << (opts.output == "json" ? render_json(j) : render_yaml(j));
  }
  if (!p.feasible) {
    for (const auto& r : p.reasons) err << "pdscaler: infeasible: " << r << "\n";
    return kExitInfeasible;
  }
  return kExitOk;
}

}  // namespace pdscaler::cli
