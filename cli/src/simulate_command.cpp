#include "simulate_command.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/planner/plan.h"
#include "pdscaler/sim/policies.h"
#include "plan_command.h"

namespace pdscaler::cli {
namespace {

using nlohmann::json;

struct Run {
  sim::SimResult result;
  double wall_s = 0;
};

std::optional<double> duration_arg(const std::string& flag, const std::string& v, std::ostream& err) {
  auto d = api::parse_duration(v);
  if (!d || *d <= 0) {
    err << "pdscaler: " << flag << ": expected a positive duration like \"15s\", got \"" << v << "\"\n";
    return std::nullopt;
  }
  return d;
}

std::optional<sim::Trace> load_trace(const SimulateOptions& o, const planner::PlanInput& m, double duration_s,
                                     std::ostream& err) {
  if (!o.trace.empty()) {
    std::string error;
    auto text = read_input(o.trace, error);
    if (!text) {
      err << "pdscaler: " << error << "\n";
      return std::nullopt;
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
      return std::nullopt;
    }
    sim::Trace tr = o.time_scale != 1 ? sim::scale(*t, o.time_scale) : *t;
    if (o.rate_scale != 1) tr = sim::densify(tr, o.rate_scale, 60, o.seed);
    return tr;
  }
  // Synthetic: Poisson arrivals at the spec's lengths, at a rate from --poisson-tpm, --steps, or
  // the spec's own workload.
  const double per_request = m.workload.input_length + m.workload.output_length;
  auto rps = [&](double tpm) { return tpm / 60 / per_request; };
  std::vector<sim::RateSegment> schedule;
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
        return std::nullopt;
      }
      schedule.push_back({at / o.time_scale, rps(tpm) * o.rate_scale * o.time_scale, o.ramp});
    }
  } else {
    const double tpm = o.poisson_tpm ? *o.poisson_tpm
                       : m.workload.rate_unit == planner::RateUnit::TokensPerSecond ? m.workload.rate * 60
                                                                                    : m.workload.rate * per_request * 60;
    schedule.push_back({0, rps(tpm) * o.rate_scale * o.time_scale, false});
  }
  sim::LengthSampler lengths{static_cast<int>(std::lround(m.workload.input_length)),
                             static_cast<int>(std::lround(m.workload.output_length)), {}};
  return sim::poisson(schedule, duration_s, lengths, o.seed);
}

std::unique_ptr<sim::Policy> make_policy(const std::string& spec, const planner::PlanInput& m, const sim::Trace& t,
                                         double cold_start_s, double interval_s, std::ostream& err) {
  if (spec == "paper") return sim::make_paper_policy(m, t);
  if (spec == "hpa") return sim::make_hpa_policy(m);
  if (spec == "dynamo") return sim::make_dynamo_policy(m);
  if (spec == "dynamo-kalman") return sim::make_dynamo_policy(m, {180, true});
  if (spec == "pdscaler") {
    planner::AutoscalerConfig c;
    c.startup_s = cold_start_s;
    c.interval_s = interval_s;
    return sim::make_pdscaler_policy(m, c);
  }
  if (spec.rfind("static:", 0) == 0) {
    int p = 0, d = 0;
    if (std::sscanf(spec.c_str() + 7, "%d,%d", &p, &d) == 2 && p >= 0 && d >= 0)
      return std::make_unique<sim::StaticPolicy>(p, d, spec);
  }
  err << "pdscaler: --policy: unknown policy \"" << spec
      << "\" (expected static:P,D, paper, hpa, dynamo, dynamo-kalman or pdscaler)\n";
  return nullptr;
}

json percentiles(const sim::Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}};
}

json summary_json(const sim::Summary& s, double wall_s) {
  return {{"policy", s.policy},
          {"requests", s.requests},
          {"completed", s.completed},
          {"sloMet", s.slo_met},
          {"sloAttainment", s.slo_attainment},
          {"durationSeconds", s.duration_s},
          {"goodputTokensPerSecond", s.goodput_tokens_per_s},
          {"gpuHours", s.gpu_hours},
          {"goodputTokensPerGpuHour", s.goodput_tokens_per_gpu_hour},
          {"ttftSeconds", percentiles(s.ttft)},
          {"tpotSeconds", percentiles(s.tpot)},
          {"e2eSeconds", percentiles(s.e2e)},
          {"meanPrefill", s.mean_prefill},
          {"meanDecode", s.mean_decode},
          {"maxPrefill", s.max_prefill},
          {"maxDecode", s.max_decode},
          {"events", s.events},
          {"wallSeconds", wall_s},
          {"requestsPerWallSecond", wall_s > 0 ? static_cast<double>(s.requests) / wall_s : 0}};
}

// A small line chart as inline SVG: one or more series over the same x.
std::string svg_chart(const std::string& title, const std::vector<double>& x,
                      const std::vector<std::pair<std::string, std::vector<double>>>& series,
                      const std::string& unit) {
  const double w = 760, h = 180, left = 60, right = 10, top = 24, bottom = 26;
  double xmax = x.empty() ? 1 : x.back(), ymax = 0;
  for (const auto& [name, ys] : series)
    for (double y : ys) if (std::isfinite(y)) ymax = std::max(ymax, y);
  if (ymax <= 0) ymax = 1;
  if (xmax <= 0) xmax = 1;
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)", w, h);
  s += fmt::format(R"(<text x="{}" y="16" font-size="13" font-family="sans-serif">{}</text>)", left, title);
  s += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#888"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#888"/>)",
                   left, top, h - bottom, w - right);
  s += fmt::format(R"(<text x="4" y="{}" font-size="11" font-family="sans-serif">{:.4g} {}</text>)", top + 10, ymax, unit);
  s += fmt::format(R"(<text x="{}" y="{}" font-size="11" font-family="sans-serif">{:.0f} s</text>)", w - right - 50, h - 6, xmax);
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (size_t i = 0; i < x.size() && i < series[k].second.size(); ++i) {
      const double y = std::isfinite(series[k].second[i]) ? series[k].second[i] : ymax;
      pts += fmt::format("{:.1f},{:.1f} ", left + (w - left - right) * x[i] / xmax,
                         h - bottom - (h - top - bottom) * y / ymax);
    }
    s += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)", kColors[k % 4], pts);
    s += fmt::format(R"(<text x="{}" y="16" font-size="12" fill="{}" font-family="sans-serif">{}</text>)",
                     w - right - 130 * static_cast<double>(series.size() - k), kColors[k % 4], series[k].first);
  }
  return s + "</svg>";
}

std::string html_report(const api::Manifest& d, const std::vector<Run>& runs, const std::string& source) {
  std::string s = "<!doctype html><html><head><meta charset=\"utf-8\"><title>pdscaler simulation</title>"
                  "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}</style></head><body>";
  s += fmt::format("<h1>pdscaler simulation: {}</h1><p>Load: {}. SLO: TTFT &le; {}, TPOT &le; {} per request.</p>",
                   d.name.empty() ? "(unnamed)" : d.name, source, api::format_duration(d.plan.slo.ttft_s),
                   api::format_duration(d.plan.slo.tpot_s));
  s += "<table><tr><th>policy</th><th>SLO attainment</th><th>GPU-hours</th><th>goodput tokens/GPU-hour</th>"
       "<th>TTFT p50 / p99</th><th>TPOT p50 / p99</th><th>mean P / D</th></tr>";
  for (const auto& r : runs) {
    const auto& m = r.result.summary;
    s += fmt::format("<tr><td style=\"text-align:left\">{}</td><td>{:.2f}%</td><td>{:.2f}</td><td>{:.0f}</td>"
                     "<td>{} / {}</td><td>{} / {}</td><td>{:.2f} / {:.2f}</td></tr>",
                     m.policy, 100 * m.slo_attainment, m.gpu_hours, m.goodput_tokens_per_gpu_hour,
                     api::format_duration(m.ttft.p50), api::format_duration(m.ttft.p99),
                     api::format_duration(m.tpot.p50), api::format_duration(m.tpot.p99), m.mean_prefill,
                     m.mean_decode);
  }
  s += "</table>";
  for (const auto& r : runs) {
    std::vector<double> x, load, p, dd, ttft, tpot;
    for (const auto& smp : r.result.timeline) {
      x.push_back(smp.t_s);
      load.push_back(smp.load_tokens_per_s * 60 / 1e6);
      p.push_back(smp.prefill);
      dd.push_back(smp.decode);
      ttft.push_back(smp.ttft_p90);
      tpot.push_back(smp.tpot_p90 * 1000);
    }
    s += fmt::format("<h2>{}</h2>", r.result.summary.policy);
    s += svg_chart("offered load", x, {{"M tokens/min", load}}, "M/min") + "<br>";
    s += svg_chart("instances held (starting and draining included)", x, {{"prefill", p}, {"decode", dd}}, "") + "<br>";
    s += svg_chart("p90 TTFT per interval", x, {{"TTFT p90", ttft}}, "s") + "<br>";
    s += svg_chart("p90 TPOT per interval", x, {{"TPOT p90", tpot}}, "ms") + "<br>";
  }
  return s + "</body></html>\n";
}

}  // namespace

int run_simulate(const SimulateOptions& o, std::ostream& out, std::ostream& err) {
  auto decoded = load_manifest(o.file, err);
  if (!decoded) return kExitBadInput;
  const planner::PlanInput& m = decoded->plan;
  auto interval = duration_arg("--interval", o.interval, err);
  auto cold = api::parse_duration(o.cold_start);
  auto duration = duration_arg("--duration", o.duration, err);
  if (!cold || *cold < 0) {
    err << "pdscaler: --cold-start: expected a duration like \"60s\", got \"" << o.cold_start << "\"\n";
    return kExitBadInput;
  }
  if (!interval || !duration) return kExitBadInput;
  if (!(o.rate_scale > 0) || !(o.time_scale > 0)) {
    err << "pdscaler: --rate-scale and --time-scale must be positive\n";
    return kExitBadInput;
  }
  auto trace = load_trace(o, m, *duration, err);
  if (!trace) return kExitBadInput;
  if (trace->requests.empty()) {
    err << "pdscaler: the load has no requests\n";
    return kExitBadInput;
  }

  sim::FleetConfig cfg;
  cfg.model = m;
  cfg.cold_start_s = *cold;
  cfg.interval_s = *interval;
  if (!o.initial.empty()) {
    if (std::sscanf(o.initial.c_str(), "%d,%d", &cfg.initial_prefill, &cfg.initial_decode) != 2) {
      err << "pdscaler: --initial: expected P,D, got \"" << o.initial << "\"\n";
      return kExitBadInput;
    }
  } else {
    // Start sized for the first minute's load, as a fleet that was already running would be.
    sim::Trace head;
    for (const auto& r : trace->requests)
      if (r.arrival_s < 60) head.requests.push_back(r);
    head.duration_s = 60;
    planner::PlanInput in = m;
    in.workload.rate_unit = planner::RateUnit::RequestsPerSecond;
    in.workload.rate = static_cast<double>(head.requests.size()) / 60;
    const planner::Plan p = planner::plan(in);
    cfg.initial_prefill = p.feasible ? std::max(1, p.prefill.replicas) : 1;
    cfg.initial_decode = p.feasible ? std::max(1, p.decode.replicas) : 1;
  }

  const std::string source = !o.trace.empty()
      ? fmt::format("{} ({} requests over {:.0f} s; rate x{:g}, time x{:g})", o.trace, trace->requests.size(),
                    trace->duration_s, o.rate_scale, o.time_scale)
      : fmt::format("synthetic Poisson ({} requests over {:.0f} s)", trace->requests.size(), trace->duration_s);
  std::vector<Run> runs;
  for (const auto& ps : o.policies) {
    auto policy = make_policy(ps, m, *trace, *cold, *interval, err);
    if (!policy) return kExitBadInput;
    const auto start = std::chrono::steady_clock::now();
    double last_shown = 0;
    auto progress = [&](double f) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (el > 1 && f - last_shown >= 0.1) {
        err << fmt::format("[simulate] {}: {:.0f}% of arrivals replayed ({:.1f} s)\n", ps, 100 * f, el);
        last_shown = f;
      }
    };
    Run r;
    r.result = sim::simulate(*trace, cfg, *policy, progress);
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    runs.push_back(std::move(r));
  }

  if (o.output == "json") {
    json j = {{"load", source},
              {"coldStartSeconds", *cold},
              {"intervalSeconds", *interval},
              {"initial", {{"prefill", cfg.initial_prefill}, {"decode", cfg.initial_decode}}},
              {"policies", json::array()}};
    for (const auto& r : runs) {
      json pj = summary_json(r.result.summary, r.wall_s);
      json tl = json::array();
      for (const auto& x : r.result.timeline)
        tl.push_back({{"t", x.t_s}, {"loadTokensPerSecond", x.load_tokens_per_s}, {"prefill", x.prefill},
                      {"decode", x.decode}, {"prefillReady", x.prefill_ready}, {"decodeReady", x.decode_ready},
                      {"ttftP50", x.ttft_p50}, {"ttftP90", x.ttft_p90}, {"tpotP50", x.tpot_p50}, {"tpotP90", x.tpot_p90}});
      pj["timeline"] = tl;
      j["policies"].push_back(pj);
    }
    out << j.dump(2) << "\n";
  } else {
    out << fmt::format("load: {}\ncold start {}, policy interval {}, initial fleet {}P{}D; SLO per request: TTFT <= {}, TPOT <= {}\n\n",
                       source, api::format_duration(*cold), api::format_duration(*interval), cfg.initial_prefill,
                       cfg.initial_decode, api::format_duration(m.slo.ttft_s), api::format_duration(m.slo.tpot_s));
    out << fmt::format("{:<16} {:>9} {:>10} {:>16} {:>18} {:>18} {:>11} {:>9}\n", "POLICY", "SLO MET", "GPU-HOURS",
                       "GOODPUT/GPU-H", "TTFT p50/p99", "TPOT p50/p99", "MEAN P/D", "REQ/S");
    for (const auto& r : runs) {
      const auto& s = r.result.summary;
      out << fmt::format("{:<16} {:>8.2f}% {:>10.2f} {:>16.0f} {:>18} {:>18} {:>11} {:>9.0f}\n", s.policy,
                         100 * s.slo_attainment, s.gpu_hours, s.goodput_tokens_per_gpu_hour,
                         api::format_duration(s.ttft.p50) + "/" + api::format_duration(s.ttft.p99),
                         api::format_duration(s.tpot.p50) + "/" + api::format_duration(s.tpot.p99),
                         fmt::format("{:.1f}/{:.1f}", s.mean_prefill, s.mean_decode),
                         r.wall_s > 0 ? static_cast<double>(s.requests) / r.wall_s : 0.0);
    }
    out << "(REQ/S: requests simulated per wall-clock second)\n";
  }
  if (!o.html.empty()) {
    std::ofstream f(o.html);
    f << html_report(*decoded, runs, source);
    if (!f) {
      err << "pdscaler: cannot write " << o.html << "\n";
      return kExitBadInput;
    }
  }
  return kExitOk;
}

}  // namespace pdscaler::cli
