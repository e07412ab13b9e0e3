#include "plan_render.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

namespace pdscaler::cli {
namespace {

using api::format_duration;

// The constraint that decided the counts, as users would look it up in the spec.
std::string binding(const planner::Plan& p) {
  if (!p.feasible) return "infeasible";
  for (auto c : p.limits)
    if (c == planner::Constraint::MaxTotalGpus) return planner::constraint_field(c);
  for (auto c : p.limits)
    if (c == planner::Constraint::PrefillMaxReplicas || c == planner::Constraint::DecodeMaxReplicas)
      return planner::constraint_field(c);
  if (!p.limits.empty()) return planner::constraint_field(p.limits.front());
  return "none";
}

std::string load_text(const planner::Derivation& x) {
  return fmt::format("{:.0f} tokens/s ({:.4g}M tokens/min, {:.4g} req/s)", x.total_tokens_per_s,
                     x.total_tokens_per_s * 60 / 1e6, x.request_rate);
}

std::string slo_text(const planner::Slo& s) {
  if (s.attainment)
    return fmt::format("TTFT <= {} and TPOT <= {} for {:g}% of requests (slo.attainment)", format_duration(s.ttft_s),
                       format_duration(s.tpot_s), *s.attainment);
  const std::string which = s.ttft_percentile > 0 ? fmt::format("p{:g}", s.ttft_percentile) : "mean";
  return fmt::format("{} TTFT <= {}, TPOT <= {}", which, format_duration(s.ttft_s),
                     format_duration(s.tpot_s));
}

std::string seconds_or_overloaded(double s) {
  return std::isfinite(s) ? format_duration(s) : "unbounded (overloaded)";
}

}  // namespace

nlohmann::json plan_to_json(const api::Manifest& d, const planner::Plan& p) {
  using nlohmann::json;
  const auto& x = p.d;
  json limits = json::array();
  for (auto c : p.limits) limits.push_back(planner::constraint_field(c));
  json warnings = d.warnings;
  for (const auto& w : p.warnings) warnings.push_back(w);
  json explanation = json::array();
  for (const auto& q : planner::explain(p))
    explanation.push_back({{"name", q.name}, {"value", q.value}, {"unit", q.unit}, {"meaning", q.meaning}});

  json j = {
      {"name", d.name},
      {"feasible", p.feasible},
      {"meetsSlo", p.meets_slo},
      {"notation", p.notation},
      {"ratio", x.ratio},
      {"rounding", api::to_string(d.plan.rounding)},
      {"queueModel", api::to_string(d.plan.prefill.queue_model)},
      {"bindingConstraint", binding(p)},
      {"limits", limits},
      {"load",
       {{"tokensPerSecond", x.total_tokens_per_s},
        {"tokensPerMinute", x.total_tokens_per_s * 60},
        {"requestsPerSecond", x.request_rate},
        {"inputLength", x.input_length},
        {"outputLength", x.output_length}}},
      {"slo",
       {{"ttftSeconds", d.plan.slo.ttft_s},
        {"tpotSeconds", d.plan.slo.tpot_s},
        {"ttftPercentile", d.plan.slo.ttft_percentile},
        {"attainment", d.plan.slo.attainment ? json(*d.plan.slo.attainment) : json(nullptr)}}},
      {"attainment",
       {{"predicted", p.predicted.attainment},
        {"ttft", p.predicted.ttft_attainment},
        {"tpot", p.predicted.tpot_attainment},
        {"feasibleShare", x.feasible_share},
        {"arrivalDispersion", d.plan.workload.arrival_dispersion}}},
      {"prefill",
       {{"replicas", p.prefill.replicas},
        {"exactReplicas", x.prefill_exact},
        {"effectiveThroughput", x.prefill_throughput},
        {"maxThroughput", x.prefill_max_throughput},
        {"maxRequestsPerSecond", x.max_rate_per_prefill},
        {"gpus", p.prefill.gpus},
        {"predictedTtftSeconds", p.predicted.ttft_mean_s},
        {"predictedTtftAtPercentileSeconds", p.predicted.ttft_at_percentile_s},
        {"predictedUtilisation", p.predicted.prefill_utilisation}}},
      {"decode",
       {{"replicas", p.decode.replicas},
        {"exactReplicas", x.decode_exact},
        {"throughput", x.decode_throughput},
        {"batchSize", x.decode_batch},
        {"tpotAtBatchSeconds", x.decode_tpot_at_batch_s},
        {"gpus", p.decode.gpus},
        {"predictedTpotSeconds", p.predicted.tpot_s},
        {"predictedBatchSize", p.predicted.decode_batch}}},
      {"totalGpus", p.total_gpus},
      {"capacity",
       {{"requestsPerSecond", p.predicted.capacity_requests_per_s},
        {"tokensPerMinute",
         p.predicted.capacity_requests_per_s * (x.input_length + x.output_length) * 60}}},
      {"explanation", explanation},
      {"reasons", p.reasons},
      {"warnings", warnings},
  };
  return j;
}

std::string render_json(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }

namespace {
void emit(YAML::Emitter& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      emit(out, it.value());
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& e : j) emit(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_boolean()) {
    out << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_integer()) {
    out << j.get<long long>();
  } else if (j.is_number()) {
    const double v = j.get<double>();
    out << (std::isfinite(v) ? fmt::format("{}", v) : std::string(v > 0 ? ".inf" : "-.inf"));
  } else {
    out << YAML::Null;
  }
}
}  // namespace

std::string render_yaml(const nlohmann::json& j) {
  YAML::Emitter out;
  emit(out, j);
  return std::string(out.c_str()) + "\n";
}

std::string render_table(const api::Manifest& d, const planner::Plan& p) {
  const auto& x = p.d;
  std::string s;
  const std::string name = d.name.empty() ? "(unnamed)" : d.name;
  s += fmt::format("PDDeployment {}\n", name);
  s += fmt::format("  load       {}; mean input {:g}, output {:g} tokens\n", load_text(x),
                   x.input_length, x.output_length);
  s += fmt::format("  SLO        {}\n", slo_text(d.plan.slo));
  if (!p.feasible) {
    s += "\nINFEASIBLE: no replica count meets the SLOs\n";
    for (const auto& r : p.reasons) s += "  - " + r + "\n";
  } else {
    s += fmt::format("\n  plan       {}  ({} GPUs)  {}\n", p.notation, p.total_gpus,
                     p.meets_slo ? "meets the SLOs at this load"
                                 : "DOES NOT meet the SLOs at this load");
    s += fmt::format("  ratio P:D  {:.3f}  (eq. 7)    rounding {}    binding constraint: {}\n",
                     x.ratio, api::to_string(d.plan.rounding), binding(p));
    s += fmt::format("  capacity   {:.4g}M tokens/min within the SLOs\n",
                     p.predicted.capacity_requests_per_s * (x.input_length + x.output_length) * 60 / 1e6);
    s += fmt::format("  per request {:.2f}% within both (TTFT {:.2f}%, TPOT {:.2f}%) of the {:.2f}% that can meet them "
                     "alone; arrivals' dispersion {:g}\n\n",
                     100 * p.predicted.attainment, 100 * p.predicted.ttft_attainment, 100 * p.predicted.tpot_attainment,
                     100 * x.feasible_share, d.plan.workload.arrival_dispersion);
    s += fmt::format("  {:<8} {:>8} {:>8} {:>6}  {:<34} {}\n", "ROLE", "REPLICAS", "EXACT", "GPUS",
                     "PER-REPLICA THROUGHPUT UNDER SLO", "PREDICTED");
    s += fmt::format("  {:<8} {:>8} {:>8.3f} {:>6}  {:<34} {}\n", "prefill", p.prefill.replicas,
                     x.prefill_exact, p.prefill.gpus,
                     fmt::format("{:.1f} tokens/s (max {:.1f})", x.prefill_throughput,
                                 x.prefill_max_throughput),
                     fmt::format("TTFT {} mean{}, utilisation {:.2f}",
                                 seconds_or_overloaded(p.predicted.ttft_mean_s),
                                 d.plan.slo.ttft_percentile > 0 || d.plan.slo.attainment
                                     ? fmt::format(", {} p{:g}",
                                                   seconds_or_overloaded(p.predicted.ttft_at_percentile_s),
                                                   d.plan.slo.attainment ? *d.plan.slo.attainment
                                                                         : d.plan.slo.ttft_percentile)
                                     : "",
                                 p.predicted.prefill_utilisation));
    s += fmt::format("  {:<8} {:>8} {:>8.3f} {:>6}  {:<34} {}\n", "decode", p.decode.replicas,
                     x.decode_exact, p.decode.gpus,
                     fmt::format("{:.1f} tokens/s (batch {:g})", x.decode_throughput, x.decode_batch),
                     fmt::format("TPOT {} at batch {:.1f}", seconds_or_overloaded(p.predicted.tpot_s),
                                 p.predicted.decode_batch));
  }
  s += "\nExplanation (the model's quantities)\n";
  for (const auto& q : planner::explain(p))
    s += fmt::format("  {:<28} {:>14.6g} {:<9} {}\n", q.name, q.value, q.unit, q.meaning);
  if (!p.warnings.empty() || !d.warnings.empty()) {
    s += "\nWarnings\n";
    for (const auto& w : d.warnings) s += "  - " + w + "\n";
    for (const auto& w : p.warnings) s += "  - " + w + "\n";
  }
  return s;
}

}  // namespace pdscaler::cli
