#include "simulate_report.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "pdscaler/sim/stats.h"

namespace pdscaler::cli {
namespace {

using nlohmann::json;
using Metric = std::function<double(const sim::Summary&)>;

// The figures every report carries, by name, each from one run's summary.
struct Figure {
  const char* key;
  Metric get;
};
const std::vector<Figure>& figures() {
  static const std::vector<Figure> f = {
      {"sloAttainment", [](const sim::Summary& s) { return s.slo_attainment; }},
      {"feasibleAttainment", [](const sim::Summary& s) { return s.feasible_attainment; }},
      {"infeasibleShare", [](const sim::Summary& s) { return s.infeasible_share; }},
      {"ttftAttainment", [](const sim::Summary& s) { return s.ttft_attainment; }},
      {"tpotAttainment", [](const sim::Summary& s) { return s.tpot_attainment; }},
      {"gpuHours", [](const sim::Summary& s) { return s.gpu_hours; }},
      {"goodputTokensPerGpuHour", [](const sim::Summary& s) { return s.goodput_tokens_per_gpu_hour; }},
      {"ttftP50Seconds", [](const sim::Summary& s) { return s.ttft.p50; }},
      {"ttftP99Seconds", [](const sim::Summary& s) { return s.ttft.p99; }},
      {"tpotP50Seconds", [](const sim::Summary& s) { return s.tpot.p50; }},
      {"tpotP99Seconds", [](const sim::Summary& s) { return s.tpot.p99; }},
      {"meanPrefill", [](const sim::Summary& s) { return s.mean_prefill; }},
      {"meanDecode", [](const sim::Summary& s) { return s.mean_decode; }},
  };
  return f;
}

sim::MeanCi over_seeds(const PolicyRuns& p, const Metric& m) {
  std::vector<double> v;
  for (const auto& r : p.runs)
    if (r.found) v.push_back(m(r.result.summary));
  return sim::mean_ci(v);
}

const PolicyRuns* find(const std::vector<PolicyRuns>& runs, const std::string& spec) {
  for (const auto& p : runs)
    if (p.spec == spec) return &p;
  return nullptr;
}

// This policy's GPU-hours over the reference's, seed by seed.
std::optional<sim::MeanCi> ratio(const PolicyRuns& p, const PolicyRuns* ref) {
  if (!ref) return std::nullopt;
  std::vector<double> v;
  for (size_t i = 0; i < p.runs.size() && i < ref->runs.size(); ++i) {
    const double base = ref->runs[i].result.summary.gpu_hours;
    if (p.runs[i].found && ref->runs[i].found && base > 0) v.push_back(p.runs[i].result.summary.gpu_hours / base);
  }
  if (v.empty()) return std::nullopt;
  return sim::mean_ci(v);
}

std::string with_ci(const sim::MeanCi& m, const char* format, double scale = 1) {
  std::string s = fmt::format(fmt::runtime(format), m.mean * scale);
  if (m.n > 1) s += fmt::format(fmt::runtime(std::string("±") + format), m.half_width * scale);
  return s;
}

std::string seconds(double s) {
  if (std::isnan(s)) return "n/a";
  if (!std::isfinite(s)) return "inf";
  if (s >= 60) return fmt::format("{:.1f}min", s / 60);
  if (s >= 1) return fmt::format("{:.2f}s", s);
  return fmt::format("{:.0f}ms", s * 1000);
}

std::string fleet_of(const PolicyRuns& p) {
  std::string out;
  for (const auto& r : p.runs) {
    if (!out.empty()) out += ", ";
    out += r.found ? fmt::format("{}P{}D", r.result.summary.initial_prefill, r.result.summary.initial_decode)
                   : std::string("none");
  }
  return out;
}

json ci_json(const sim::MeanCi& m) { return {{"mean", m.mean}, {"ci95", m.half_width}, {"n", m.n}}; }

json summary_json(const sim::Summary& s) {
  auto pct = [](const sim::Percentiles& p) {
    return json{{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}};
  };
  return {{"policy", s.policy},
          {"initial", {{"prefill", s.initial_prefill}, {"decode", s.initial_decode}}},
          {"requests", s.requests},
          {"completed", s.completed},
          {"sloMet", s.slo_met},
          {"sloAttainment", s.slo_attainment},
          {"feasible", s.feasible},
          {"feasibleMet", s.feasible_met},
          {"feasibleAttainment", s.feasible_attainment},
          {"infeasibleShare", s.infeasible_share},
          {"ttftAttainment", s.ttft_attainment},
          {"tpotAttainment", s.tpot_attainment},
          {"durationSeconds", s.duration_s},
          {"goodputTokensPerSecond", s.goodput_tokens_per_s},
          {"gpuHours", s.gpu_hours},
          {"goodputTokensPerGpuHour", s.goodput_tokens_per_gpu_hour},
          {"ttftSeconds", pct(s.ttft)},
          {"tpotSeconds", pct(s.tpot)},
          {"e2eSeconds", pct(s.e2e)},
          {"meanPrefill", s.mean_prefill},
          {"meanDecode", s.mean_decode},
          {"maxPrefill", s.max_prefill},
          {"maxDecode", s.max_decode},
          {"events", s.events}};
}

std::string header(const SimSettings& s, const api::Manifest& d) {
  std::string seeds;
  if (s.seeds.size() == 1) seeds = fmt::format("seed {}", s.seeds.front());
  else seeds = fmt::format("{} seeds ({}..{}), mean ±95% interval", s.seeds.size(), s.seeds.front(), s.seeds.back());
  return fmt::format(
      "load: {}\ncold start {}, policy interval {}, initial fleet {}; limits {}\n"
      "SLO per request: TTFT <= {}, TPOT <= {}; target {:.4g}% of feasible requests; {}; routing {}; engine: {}; {}\n",
      s.load, api::format_duration(s.cold_start_s), api::format_duration(s.interval_s), s.initial, s.limits,
      api::format_duration(d.plan.slo.ttft_s), api::format_duration(d.plan.slo.tpot_s), 100 * s.target,
      s.sizing, s.routing, s.engine, seeds);
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
  // Long runs: at most ~1,500 points a series, each the largest of its stretch (peaks stay visible).
  const size_t stride = std::max<size_t>(1, x.size() / 1500);
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    const auto& ys = series[k].second;
    for (size_t i = 0; i < x.size() && i < ys.size(); i += stride) {
      double y = 0;
      for (size_t j = i; j < std::min(ys.size(), i + stride); ++j) y = std::max(y, std::isfinite(ys[j]) ? ys[j] : ymax);
      pts += fmt::format("{:.1f},{:.1f} ", left + (w - left - right) * x[i] / xmax,
                         h - bottom - (h - top - bottom) * y / ymax);
    }
    s += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)", kColors[k % 4], pts);
    s += fmt::format(R"(<text x="{}" y="16" font-size="12" fill="{}" font-family="sans-serif">{}</text>)",
                     w - right - 130 * static_cast<double>(series.size() - k), kColors[k % 4], series[k].first);
  }
  return s + "</svg>";
}

struct Row {
  std::string policy, attain, feasible, vs_target, gpu_h, over_best, over_clair, ttft, tpot, mean_pd;
};

std::vector<Row> rows(const SimSettings& s, const std::vector<PolicyRuns>& runs) {
  const PolicyRuns* best = find(runs, "best-static");
  const PolicyRuns* clair = find(runs, "clairvoyant");
  std::vector<Row> out;
  for (const auto& p : runs) {
    Row r;
    r.policy = p.runs.empty() ? p.spec : p.runs.front().result.summary.policy;
    if (p.spec == "best-static") r.policy = "best-static " + fleet_of(p);
    auto m = [&](const char* key) {
      for (const auto& f : figures())
        if (std::string(f.key) == key) return over_seeds(p, f.get);
      return sim::MeanCi{};
    };
    const auto feasible = m("feasibleAttainment");
    r.attain = with_ci(m("sloAttainment"), "{:.2f}", 100);
    r.feasible = feasible.n ? with_ci(feasible, "{:.2f}", 100) : "n/a";
    r.vs_target = feasible.n ? fmt::format("{:+.2f}", 100 * (feasible.mean - s.target)) : "n/a";
    r.gpu_h = with_ci(m("gpuHours"), "{:.1f}");
    const auto rb = ratio(p, best), rc = ratio(p, clair);
    r.over_best = rb ? with_ci(*rb, "{:.2f}") : "-";
    r.over_clair = rc ? with_ci(*rc, "{:.2f}") : "-";
    r.ttft = seconds(m("ttftP99Seconds").mean);
    r.tpot = seconds(m("tpotP99Seconds").mean);
    r.mean_pd = fmt::format("{:.1f}/{:.1f}", m("meanPrefill").mean, m("meanDecode").mean);
    out.push_back(r);
  }
  return out;
}

}  // namespace

std::string render_table(const SimSettings& s, const api::Manifest& d, const std::vector<PolicyRuns>& runs) {
  std::string out = header(s, d);
  if (!runs.empty() && !runs.front().runs.empty()) {
    const auto inf = over_seeds(runs.front(), [](const sim::Summary& x) { return x.infeasible_share; });
    out += fmt::format("infeasible requests (miss TTFT or TPOT alone on an idle fleet): {:.2f}%\n", 100 * inf.mean);
  }
  out += "\n";
  const auto table = rows(s, runs);
  size_t wp = 6;
  for (const auto& r : table) wp = std::max(wp, r.policy.size());
  out += fmt::format("{:<{}}  {:>12} {:>12} {:>7} {:>12} {:>11} {:>11} {:>9} {:>9} {:>10}\n", "POLICY", wp, "SLO MET %",
                     "FEASIBLE %", "-TARGET", "GPU-HOURS", "/BEST-STAT", "/CLAIRVOY", "TTFT p99", "TPOT p99", "MEAN P/D");
  for (const auto& r : table)
    out += fmt::format("{:<{}}  {:>12} {:>12} {:>7} {:>12} {:>11} {:>11} {:>9} {:>9} {:>10}\n", r.policy, wp, r.attain,
                       r.feasible, r.vs_target, r.gpu_h, r.over_best, r.over_clair, r.ttft, r.tpot, r.mean_pd);
  for (const auto& p : runs)
    for (const auto& r : p.runs)
      if (!r.found)
        out += fmt::format("{} (seed {}): no fleet within the limits reaches {:.4g}% of feasible requests\n", p.spec,
                           r.seed, 100 * s.target);
  return out;
}

std::string render_json(const SimSettings& s, const api::Manifest&, const std::vector<PolicyRuns>& runs) {
  json j = {{"load", s.load},
            {"coldStartSeconds", s.cold_start_s},
            {"intervalSeconds", s.interval_s},
            {"initial", s.initial},
            {"limits", s.limits},
            {"seeds", s.seeds},
            {"targetAttainment", s.target},
            {"routing", s.routing},
            {"engine", s.engine},
            {"policies", json::array()}};
  const PolicyRuns* best = find(runs, "best-static");
  const PolicyRuns* clair = find(runs, "clairvoyant");
  for (const auto& p : runs) {
    json pj = {{"policy", p.spec}};
    json mean = json::object();
    for (const auto& f : figures()) mean[f.key] = ci_json(over_seeds(p, f.get));
    const auto feasible = over_seeds(p, [](const sim::Summary& x) { return x.feasible_attainment; });
    mean["attainmentMinusTarget"] = feasible.mean - s.target;
    if (auto r = ratio(p, best)) mean["gpuHoursOverBestStatic"] = ci_json(*r);
    if (auto r = ratio(p, clair)) mean["gpuHoursOverClairvoyant"] = ci_json(*r);
    pj["mean"] = mean;
    json seeds = json::array();
    for (const auto& r : p.runs) {
      json sj = summary_json(r.result.summary);
      sj["seed"] = r.seed;
      sj["found"] = r.found;
      sj["wallSeconds"] = r.wall_s;
      sj["requestsPerWallSecond"] = r.wall_s > 0 ? static_cast<double>(r.result.summary.requests) / r.wall_s : 0;
      seeds.push_back(sj);
    }
    pj["seeds"] = seeds;
    json tl = json::array();
    if (!p.runs.empty())
      for (const auto& x : p.runs.front().result.timeline)
        tl.push_back({{"t", x.t_s}, {"loadTokensPerSecond", x.load_tokens_per_s}, {"prefill", x.prefill},
                      {"decode", x.decode}, {"prefillReady", x.prefill_ready}, {"decodeReady", x.decode_ready},
                      {"ttftP50", x.ttft_p50}, {"ttftP90", x.ttft_p90}, {"tpotP50", x.tpot_p50}, {"tpotP90", x.tpot_p90},
                      {"attainment", x.attainment >= 0 ? json(x.attainment) : json(nullptr)}});
    pj["timeline"] = tl;
    j["policies"].push_back(pj);
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_html(const SimSettings& s, const api::Manifest& d, const std::vector<PolicyRuns>& runs) {
  auto esc = [](std::string t) {
    std::string o;
    for (char c : t) {
      if (c == '<') o += "&lt;";
      else if (c == '>') o += "&gt;";
      else if (c == '&') o += "&amp;";
      else o += c;
    }
    return o;
  };
  std::string h = "<!doctype html><html><head><meta charset=\"utf-8\"><title>pdscaler simulation</title>"
                  "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
                  "pre{background:#f8f8f8;padding:8px}</style></head><body>";
  h += fmt::format("<h1>pdscaler simulation: {}</h1><pre>{}</pre>", esc(d.name.empty() ? "(unnamed)" : d.name),
                   esc(header(s, d)));
  h += "<table><tr><th>policy</th><th>SLO met %</th><th>feasible %</th><th>&minus; target</th><th>GPU-hours</th>"
       "<th>&divide; best-static</th><th>&divide; clairvoyant</th><th>TTFT p99</th><th>TPOT p99</th><th>mean P / D</th></tr>";
  for (const auto& r : rows(s, runs))
    h += fmt::format("<tr><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                     "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                     esc(r.policy), r.attain, r.feasible, r.vs_target, r.gpu_h, r.over_best, r.over_clair, r.ttft,
                     r.tpot, r.mean_pd);
  h += "</table><p>Charts: the first seed of each policy.</p>";
  for (const auto& p : runs) {
    if (p.runs.empty()) continue;
    std::vector<double> x, load, pf, df, ttft, tpot;
    for (const auto& smp : p.runs.front().result.timeline) {
      x.push_back(smp.t_s);
      load.push_back(smp.load_tokens_per_s * 60 / 1e6);
      pf.push_back(smp.prefill);
      df.push_back(smp.decode);
      ttft.push_back(smp.ttft_p90);
      tpot.push_back(smp.tpot_p90 * 1000);
    }
    h += fmt::format("<h2>{}</h2>", esc(p.runs.front().result.summary.policy));
    h += svg_chart("offered load", x, {{"M tokens/min", load}}, "M/min") + "<br>";
    h += svg_chart("instances held (starting and draining included)", x, {{"prefill", pf}, {"decode", df}}, "") + "<br>";
    h += svg_chart("p90 TTFT per interval", x, {{"TTFT p90", ttft}}, "s") + "<br>";
    h += svg_chart("p90 TPOT per interval", x, {{"TPOT p90", tpot}}, "ms") + "<br>";
  }
  return h + "</body></html>\n";
}

}  // namespace pdscaler::cli
