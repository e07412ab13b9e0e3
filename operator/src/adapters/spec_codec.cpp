#include "pdscaler/codec/spec_codec.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <map>
#include <sstream>

namespace pdscaler::codec {
namespace {

using planner::ProfilePoint;

constexpr std::string_view kApiVersion = "pdscaler.io/v1alpha1";
constexpr std::string_view kKind = "PDDeployment";

std::string show(const YAML::Node& n) {
  if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "null";
  return "nothing";
}

std::string num(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

// Accumulates errors while walking the document; every getter names the field it reads.
class Reader {
 public:
  std::vector<FieldError> errors;

  void fail(const YAML::Node& at, const std::string& path, std::string message) {
    FieldError e{path, 0, 0, std::move(message)};
    if (at.IsDefined() && at.Mark().line >= 0) {
      e.line = at.Mark().line + 1;
      e.column = at.Mark().column + 1;
    }
    errors.push_back(std::move(e));
  }

  // A map whose keys are all known and none repeated; false (with an error) otherwise.
  bool map(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known) {
    if (!n.IsMap()) {
      fail(n, path, "expected a map, got " + show(n));
      return false;
    }
    std::map<std::string, int> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string sub = path.empty() ? key : path + "." + key;
      if (++seen[key] > 1) fail(it->first, sub, "duplicate field");
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) {
        std::string list;
        for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
        fail(it->first, sub, "unknown field (known here: " + list + ")");
      }
    }
    return true;
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? key : path + "." + key;
  }

  // The child if present (and not null); otherwise an error when required.
  YAML::Node child(const YAML::Node& parent, const std::string& path, const char* key,
                   bool required) {
    const YAML::Node c = parent[key];
    if ((!c.IsDefined() || c.IsNull()) && required) fail(parent, join(path, key), "required field is missing");
    return (c.IsDefined() && !c.IsNull()) ? c : YAML::Node(YAML::NodeType::Undefined);
  }

  std::optional<double> number(const YAML::Node& parent, const std::string& path, const char* key,
                               bool required) {
    const YAML::Node n = child(parent, path, key, required);
    if (!n.IsDefined()) return std::nullopt;
    return number_of(n, join(path, key));
  }

  std::optional<double> number_of(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      fail(n, path, "expected a number, got " + show(n));
      return std::nullopt;
    }
    double v = 0;
    const std::string& s = n.Scalar();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
      fail(n, path, "expected a number, got " + show(n));
      return std::nullopt;
    }
    return v;
  }

  // A number that must satisfy lo <= v (or lo < v when `exclusive`) and, when given, v <= hi.
  std::optional<double> bounded(const YAML::Node& parent, const std::string& path, const char* key,
                                bool required, double lo, bool exclusive,
                                std::optional<double> hi = std::nullopt, bool hi_exclusive = false) {
    auto v = number(parent, path, key, required);
    if (!v) return v;
    return check_bounds(parent[key], join(path, key), *v, lo, exclusive, hi, hi_exclusive);
  }

  std::optional<double> check_bounds(const YAML::Node& at, const std::string& path, double v,
                                     double lo, bool exclusive, std::optional<double> hi,
                                     bool hi_exclusive) {
    if (exclusive ? !(v > lo) : !(v >= lo)) {
      fail(at, path,
           std::string("must be ") + (exclusive ? "greater than " : "at least ") + num(lo) +
               ", got " + num(v));
      return std::nullopt;
    }
    if (hi && (hi_exclusive ? !(v < *hi) : !(v <= *hi))) {
      fail(at, path,
           std::string("must be ") + (hi_exclusive ? "less than " : "at most ") + num(*hi) +
               ", got " + num(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<int> integer(const YAML::Node& parent, const std::string& path, const char* key,
                             bool required, int lo) {
    const YAML::Node n = child(parent, path, key, required);
    if (!n.IsDefined()) return std::nullopt;
    return integer_of(n, join(path, key), lo);
  }

  std::optional<int> integer_of(const YAML::Node& n, const std::string& path, int lo) {
    auto v = number_of(n, path);
    if (!v) return std::nullopt;
    if (*v != std::floor(*v) || std::abs(*v) > 1e9) {
      fail(n, path, "expected a whole number, got " + show(n));
      return std::nullopt;
    }
    if (*v < lo) {
      fail(n, path, "must be at least " + std::to_string(lo) + ", got " + num(*v));
      return std::nullopt;
    }
    return static_cast<int>(*v);
  }

  std::optional<bool> boolean(const YAML::Node& parent, const std::string& path, const char* key) {
    const YAML::Node n = child(parent, path, key, false);
    if (!n.IsDefined()) return std::nullopt;
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
    fail(n, join(path, key), "expected true or false, got " + show(n));
    return std::nullopt;
  }

  std::optional<std::string> string(const YAML::Node& parent, const std::string& path,
                                    const char* key, bool required) {
    const YAML::Node n = child(parent, path, key, required);
    if (!n.IsDefined()) return std::nullopt;
    if (!n.IsScalar() || n.Scalar().empty()) {
      fail(n, join(path, key), "expected a non-empty string, got " + show(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<double> duration_of(const YAML::Node& n, const std::string& path, bool positive) {
    if (!n.IsScalar()) {
      fail(n, path, "expected a duration like \"2s\" or \"100ms\", got " + show(n));
      return std::nullopt;
    }
    auto v = parse_duration(n.Scalar());
    if (!v) {
      fail(n, path, "expected a duration like \"2s\" or \"100ms\", got " + show(n));
      return std::nullopt;
    }
    if (*v < 0 || (positive && *v == 0)) {
      fail(n, path, std::string("must be ") + (positive ? "positive" : "zero or more") + ", got " +
                        show(n));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> duration(const YAML::Node& parent, const std::string& path,
                                  const char* key, bool required, bool positive) {
    const YAML::Node n = child(parent, path, key, required);
    if (!n.IsDefined()) return std::nullopt;
    return duration_of(n, join(path, key), positive);
  }

  template <typename E>
  std::optional<E> enumeration(const YAML::Node& parent, const std::string& path, const char* key,
                               std::initializer_list<std::pair<const char*, E>> values) {
    const YAML::Node n = child(parent, path, key, false);
    if (!n.IsDefined()) return std::nullopt;
    std::string list;
    for (const auto& [name, value] : values) {
      if (n.IsScalar() && n.Scalar() == name) return value;
      list += std::string(list.empty() ? "" : ", ") + name;
    }
    fail(n, join(path, key), "unknown value " + show(n) + " (expected one of: " + list + ")");
    return std::nullopt;
  }

  // Exactly one of `keys` is present; returns its index, or -1 (with an error).
  int one_of(const YAML::Node& parent, const std::string& path,
             std::initializer_list<const char*> keys) {
    int found = -1, count = 0, i = 0;
    std::string list;
    for (const char* k : keys) {
      if (parent[k].IsDefined() && !parent[k].IsNull()) {
        found = i;
        ++count;
      }
      list += std::string(list.empty() ? "" : ", ") + k;
      ++i;
    }
    if (count != 1)
      fail(parent, path + ".{" + list + "}",
           count == 0 ? "one of these is required" : "give only one of these, not " + std::to_string(count));
    return count == 1 ? found : -1;
  }
};

std::optional<ScaleTargetRef> read_target(Reader& r, const YAML::Node& role, const std::string& path) {
  const std::string p = path + ".scaleTargetRef";
  const YAML::Node n = r.child(role, path, "scaleTargetRef", true);
  if (!n.IsDefined() || !r.map(n, p, {"apiVersion", "kind", "name"})) return std::nullopt;
  auto api = r.string(n, p, "apiVersion", true);
  auto kind = r.string(n, p, "kind", true);
  auto name = r.string(n, p, "name", true);
  if (!api || !kind || !name) return std::nullopt;
  return ScaleTargetRef{*api, *kind, *name};
}

void read_replica_bounds(Reader& r, const YAML::Node& role, const std::string& path, int& min,
                         int& max) {
  auto lo = r.integer(role, path, "minReplicas", false, 0);
  auto hi = r.integer(role, path, "maxReplicas", false, 1);
  if (lo) min = *lo;
  if (hi) max = *hi;
  if (min > max)
    r.fail(role["maxReplicas"].IsDefined() ? role["maxReplicas"] : role, path + ".maxReplicas",
           "must be at least minReplicas (" + std::to_string(min) + "), got " + std::to_string(max));
}

// A list of {x, y} maps turned into a validated profile; errors point at the offending element.
std::optional<planner::Profile> read_profile(Reader& r, const YAML::Node& list,
                                             const std::string& path, const char* x_key,
                                             const char* y_key, bool y_is_duration, bool x_integral,
                                             planner::ProfileShape shape,
                                             std::vector<std::string>& warnings) {
  if (!list.IsSequence() || list.size() == 0) {
    r.fail(list, path, "expected a non-empty list of {" + std::string(x_key) + ", " + y_key +
                           "}, got " + show(list));
    return std::nullopt;
  }
  std::vector<ProfilePoint> points;
  bool ok = true;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    const YAML::Node e = list[i];
    if (!r.map(e, p, {x_key, y_key})) {
      ok = false;
      continue;
    }
    std::optional<double> x;
    if (x_integral) {
      auto xi = r.integer(e, p, x_key, true, 1);
      if (xi) x = *xi;
    } else {
      x = r.bounded(e, p, x_key, true, 0, true);
    }
    std::optional<double> y = y_is_duration ? r.duration(e, p, y_key, true, true)
                                            : r.bounded(e, p, y_key, true, 0, true);
    if (!x || !y) {
      ok = false;
      continue;
    }
    points.push_back({*x, *y});
  }
  if (!ok) return std::nullopt;
  // The library would sort them, but in a hand-written manifest a point out of order is more
  // often a typo (16 for 64) than intent: ask for the table in order.
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i].x <= points[i - 1].x) {
      r.fail(list[i][x_key], path + "[" + std::to_string(i) + "]." + x_key,
             num(points[i].x) + " is not greater than the previous point's " +
                 num(points[i - 1].x) + ": list the points in increasing " + x_key +
                 ", each once");
      return std::nullopt;
    }
  }
  auto built = planner::Profile::build(points, shape);
  if (!built) {
    const auto& err = built.error();
    const std::string p = err.index >= 0 ? path + "[" + std::to_string(err.index) + "]" : path;
    const std::string field = err.field == "x" ? "." + std::string(x_key)
                              : err.field == "y" ? "." + std::string(y_key)
                                                 : "";
    r.fail(err.index >= 0 ? list[err.index] : list, p + field, err.message);
    return std::nullopt;
  }
  for (const auto& note : built->notes())
    warnings.push_back(path + "[" + std::to_string(note.index) + "]: " + note.message);
  return *built;
}

void read_slo(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.slo";
  const YAML::Node n = r.child(spec, "spec", "slo", true);
  if (!n.IsDefined() || !r.map(n, p, {"ttft", "tpot", "ttftPercentile"})) return;
  if (auto v = r.duration(n, p, "ttft", true, true)) out.plan.slo.ttft_s = *v;
  if (auto v = r.duration(n, p, "tpot", true, true)) out.plan.slo.tpot_s = *v;
  if (auto v = r.bounded(n, p, "ttftPercentile", false, 0, false, 100.0, true))
    out.plan.slo.ttft_percentile = *v;
}

void read_workload(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.workload";
  const YAML::Node n = r.child(spec, "spec", "workload", true);
  if (!n.IsDefined() ||
      !r.map(n, p,
             {"tokensPerMinute", "tokensPerSecond", "requestsPerSecond", "inputLength",
              "outputLength", "inputLengthStdDev", "inputLengthDistribution", "prefixCacheHitRate"}))
    return;
  auto& w = out.plan.workload;
  static const char* kRates[] = {"tokensPerMinute", "tokensPerSecond", "requestsPerSecond"};
  const int rate = r.one_of(n, p, {kRates[0], kRates[1], kRates[2]});
  if (rate >= 0) {
    out.rate_field = kRates[rate];
    if (auto v = r.bounded(n, p, kRates[rate], true, 0, false)) {
      w.rate = rate == 0 ? *v / 60 : *v;
      w.rate_unit = rate == 2 ? planner::RateUnit::RequestsPerSecond
                              : planner::RateUnit::TokensPerSecond;
    }
  }
  const bool has_dist = n["inputLengthDistribution"].IsDefined();
  if (has_dist && n["inputLength"].IsDefined())
    r.fail(n["inputLength"], p + ".inputLength",
           "give inputLength or inputLengthDistribution, not both");
  if (has_dist && n["inputLengthStdDev"].IsDefined())
    r.fail(n["inputLengthStdDev"], p + ".inputLengthStdDev",
           "give inputLengthStdDev or inputLengthDistribution, not both");
  if (!has_dist) {
    if (auto v = r.bounded(n, p, "inputLength", true, 0, true)) w.input_length = *v;
  } else {
    const YAML::Node list = n["inputLengthDistribution"];
    const std::string lp = p + ".inputLengthDistribution";
    if (!list.IsSequence() || list.size() == 0) {
      r.fail(list, lp, "expected a non-empty list of {inputLength, weight}, got " + show(list));
    } else {
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string ep = lp + "[" + std::to_string(i) + "]";
        if (!r.map(list[i], ep, {"inputLength", "weight"})) continue;
        auto len = r.bounded(list[i], ep, "inputLength", true, 0, true);
        auto wt = r.bounded(list[i], ep, "weight", true, 0, true);
        if (len && wt) w.input_length_distribution.push_back({*len, *wt});
      }
    }
  }
  if (auto v = r.bounded(n, p, "outputLength", true, 0, true)) w.output_length = *v;
  if (auto v = r.bounded(n, p, "inputLengthStdDev", false, 0, false)) w.input_length_stddev = *v;
  if (auto v = r.bounded(n, p, "prefixCacheHitRate", false, 0, false, 1.0, true))
    w.prefix_cache_hit_rate = *v;
}

void read_prefill(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.prefill";
  const YAML::Node n = r.child(spec, "spec", "prefill", true);
  if (!n.IsDefined() ||
      !r.map(n, p,
             {"scaleTargetRef", "gpusPerReplica", "maxThroughput", "throughputByInputLength",
              "overhead", "overheadPerInputToken", "dataParallelSize", "queueModel", "minReplicas",
              "maxReplicas"}))
    return;
  auto& role = out.plan.prefill;
  if (auto t = read_target(r, n, p)) out.prefill_target = *t;
  if (auto v = r.integer(n, p, "gpusPerReplica", false, 1)) role.gpus_per_replica = *v;
  const int which = r.one_of(n, p, {"maxThroughput", "throughputByInputLength"});
  if (which == 0) {
    if (auto v = r.bounded(n, p, "maxThroughput", true, 0, true))
      role.max_throughput = *planner::Profile::build({{1, *v}}, planner::ProfileShape::Free);
  } else if (which == 1) {
    auto prof = read_profile(r, n["throughputByInputLength"], p + ".throughputByInputLength",
                             "inputLength", "maxThroughput", false, false,
                             planner::ProfileShape::Free, out.warnings);
    if (prof) role.max_throughput = *prof;
  }
  if (auto v = r.duration(n, p, "overhead", false, false)) role.overhead_s = *v;
  if (auto v = r.duration(n, p, "overheadPerInputToken", false, false))
    role.overhead_per_input_token_s = *v;
  if (auto v = r.integer(n, p, "dataParallelSize", false, 1)) role.data_parallel_size = *v;
  if (auto v = r.enumeration<planner::QueueModel>(n, p, "queueModel",
                                                  {{"MM1", planner::QueueModel::MM1},
                                                   {"MD1", planner::QueueModel::MD1},
                                                   {"MG1", planner::QueueModel::MG1}}))
    role.queue_model = *v;
  read_replica_bounds(r, n, p, role.min_replicas, role.max_replicas);
}

void read_decode(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.decode";
  const YAML::Node n = r.child(spec, "spec", "decode", true);
  if (!n.IsDefined() || !r.map(n, p,
                               {"scaleTargetRef", "gpusPerReplica", "tpotByBatchSize",
                                "maxBatchSize", "minReplicas", "maxReplicas"}))
    return;
  auto& role = out.plan.decode;
  if (auto t = read_target(r, n, p)) out.decode_target = *t;
  if (auto v = r.integer(n, p, "gpusPerReplica", false, 1)) role.gpus_per_replica = *v;
  const YAML::Node table = r.child(n, p, "tpotByBatchSize", true);
  if (table.IsDefined()) {
    auto prof = read_profile(r, table, p + ".tpotByBatchSize", "batchSize", "tpot", true, true,
                             planner::ProfileShape::NonDecreasing, out.warnings);
    if (prof) role.tpot_by_batch = *prof;
  }
  if (auto v = r.integer(n, p, "maxBatchSize", false, 1)) role.max_batch_size = *v;
  read_replica_bounds(r, n, p, role.min_replicas, role.max_replicas);
}

void read_scaling(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.scaling";
  const YAML::Node n = r.child(spec, "spec", "scaling", false);
  if (!n.IsDefined() ||
      !r.map(n, p, {"rounding", "maxTotalGpus", "onOverride", "pendingTimeout", "capacityRetryInterval"}))
    return;
  if (auto v = r.duration(n, p, "pendingTimeout", false, true)) out.pending_timeout_s = *v;
  if (auto v = r.duration(n, p, "capacityRetryInterval", false, true)) out.capacity_retry_s = *v;
  if (auto v = r.enumeration<planner::Rounding>(
          n, p, "rounding", {{"Ceil", planner::Rounding::Ceil}, {"Nearest", planner::Rounding::Nearest}}))
    out.plan.rounding = *v;
  if (auto v = r.integer(n, p, "maxTotalGpus", false, 1)) out.plan.max_total_gpus = *v;
  if (auto v = r.enumeration<OverridePolicy>(
          n, p, "onOverride", {{"Reassert", OverridePolicy::Reassert}, {"Yield", OverridePolicy::Yield}}))
    out.on_override = *v;
}

void read_metrics(Reader& r, const YAML::Node& spec, PDDeployment& out) {
  const std::string p = "spec.metrics";
  const YAML::Node n = r.child(spec, "spec", "metrics", false);
  if (!n.IsDefined() ||
      !r.map(n, p, {"prometheus", "engine", "prefillSelector", "decodeSelector", "frontendSelector", "window",
                    "evaluationInterval", "startupTime", "scaleDownWindow", "queries", "calibration", "fallback"}))
    return;
  MetricsSpec m;
  const YAML::Node prom = r.child(n, p, "prometheus", true);
  if (prom.IsDefined() && r.map(prom, p + ".prometheus", {"url", "bearerTokenSecret", "caSecret"})) {
    for (auto [key, field] : {std::pair{"bearerTokenSecret", &m.bearer_token_secret}, std::pair{"caSecret", &m.ca_secret}}) {
      const std::string sp = p + ".prometheus." + key;
      const YAML::Node sn = r.child(prom, p + ".prometheus", key, false);
      if (!sn.IsDefined() || !r.map(sn, sp, {"name", "key"})) continue;
      auto name = r.string(sn, sp, "name", true);
      auto k = r.string(sn, sp, "key", true);
      if (name && k) *field = SecretKeyRef{*name, *k};
    }
    if (auto v = r.string(prom, p + ".prometheus", "url", true)) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
        r.fail(prom["url"], p + ".prometheus.url", "expected an http:// or https:// URL, got \"" + *v + "\"");
      m.prometheus_url = *v;
      while (!m.prometheus_url.empty() && m.prometheus_url.back() == '/') m.prometheus_url.pop_back();
    }
  }
  if (auto v = r.enumeration<Engine>(n, p, "engine",
                                     {{"vllm", Engine::Vllm}, {"sglang", Engine::Sglang},
                                      {"dynamo", Engine::Dynamo}, {"custom", Engine::Custom}}))
    m.engine = *v;
  for (auto [key, field] : {std::pair{"prefillSelector", &m.prefill_selector}, std::pair{"decodeSelector", &m.decode_selector},
                            std::pair{"frontendSelector", &m.frontend_selector}}) {
    const bool required = std::string(key) == "frontendSelector" ? m.engine == Engine::Dynamo : true;
    if (auto v = r.string(n, p, key, required)) {
      if (v->find_first_of("{}") != std::string::npos)
        r.fail(n[key], p + "." + key, "label matchers without braces, like job=\"prefill\", got \"" + *v + "\"");
      *field = *v;
    }
  }
  if (auto v = r.duration(n, p, "window", false, true)) m.window_s = *v;
  if (auto v = r.duration(n, p, "evaluationInterval", false, true)) m.evaluation_interval_s = *v;
  if (auto v = r.duration(n, p, "startupTime", false, false)) m.startup_s = *v;
  if (auto v = r.duration(n, p, "scaleDownWindow", false, false)) m.scale_down_window_s = *v;

  const std::string qp = p + ".queries";
  const YAML::Node q = r.child(n, p, "queries", m.engine == Engine::Custom);
  if (q.IsDefined() && r.map(q, qp, {"completions", "inFlightGrowth", "meanInputLength", "meanOutputLength",
                                     "meanTtft", "meanTpot"})) {
    for (auto [key, field] : {std::pair{"completions", &m.queries.completions},
                              std::pair{"inFlightGrowth", &m.queries.in_flight_growth},
                              std::pair{"meanInputLength", &m.queries.mean_input_length},
                              std::pair{"meanOutputLength", &m.queries.mean_output_length},
                              std::pair{"meanTtft", &m.queries.mean_ttft},
                              std::pair{"meanTpot", &m.queries.mean_tpot}}) {
      // A custom engine has no preset: the load and the lengths must be given.
      const std::string k = key;
      const bool required = m.engine == Engine::Custom &&
                            (k == "completions" || k == "meanInputLength" || k == "meanOutputLength");
      if (auto v = r.string(q, qp, key, required)) *field = *v;
    }
  }

  const std::string cp = p + ".calibration";
  const YAML::Node c = r.child(n, p, "calibration", false);
  if (c.IsDefined() && r.map(c, cp, {"enabled", "maxCorrection", "minRequests"})) {
    if (auto v = r.boolean(c, cp, "enabled")) m.calibration.enabled = *v;
    if (auto v = r.bounded(c, cp, "maxCorrection", false, 0, false, 1.0)) m.calibration.max_correction = *v;
    if (auto v = r.integer(c, cp, "minRequests", false, 1)) m.calibration.min_requests = *v;
  }

  const std::string fp = p + ".fallback";
  const YAML::Node f = r.child(n, p, "fallback", false);
  if (f.IsDefined() && r.map(f, fp, {"afterFailures", "prefillReplicas", "decodeReplicas"})) {
    FallbackSpec fb;
    if (auto v = r.integer(f, fp, "afterFailures", true, 1)) fb.after_failures = *v;
    if (auto v = r.integer(f, fp, "prefillReplicas", true, 1)) fb.prefill_replicas = *v;
    if (auto v = r.integer(f, fp, "decodeReplicas", true, 1)) fb.decode_replicas = *v;
    m.fallback = fb;
  }
  out.metrics = m;
}

}  // namespace

tl::expected<PDDeployment, std::vector<FieldError>> decode_pddeployment(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return tl::unexpected(std::vector<FieldError>{
        {"", e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0,
         "not valid YAML or JSON: " + e.msg}});
  }
  Reader r;
  PDDeployment out;
  if (!root.IsDefined() || root.IsNull()) {
    r.fail(root, "", "the document is empty");
    return tl::unexpected(r.errors);
  }
  if (!r.map(root, "", {"apiVersion", "kind", "metadata", "spec", "status"}))
    return tl::unexpected(r.errors);
  auto api = r.string(root, "", "apiVersion", true);
  if (api && *api != kApiVersion)
    r.fail(root["apiVersion"], "apiVersion",
           "expected \"" + std::string(kApiVersion) + "\", got \"" + *api + "\"");
  auto kind = r.string(root, "", "kind", true);
  if (kind && *kind != kKind)
    r.fail(root["kind"], "kind", "expected \"" + std::string(kKind) + "\", got \"" + *kind + "\"");
  if (const YAML::Node md = root["metadata"]; md.IsDefined()) {
    if (!md.IsMap()) {
      r.fail(md, "metadata", "expected a map, got " + show(md));
    } else {
      if (auto v = r.string(md, "metadata", "name", false)) out.name = *v;
      if (auto v = r.string(md, "metadata", "namespace", false)) out.namespace_ = *v;
    }
  }
  const YAML::Node spec = r.child(root, "", "spec", true);
  if (spec.IsDefined() &&
      r.map(spec, "spec", {"mode", "slo", "workload", "prefill", "decode", "scaling", "metrics"})) {
    if (auto v = r.enumeration<Mode>(spec, "spec", "mode",
                                     {{"Auto", Mode::Auto},
                                      {"Recommend", Mode::Recommend},
                                      {"Off", Mode::Off}}))
      out.mode = *v;
    read_slo(r, spec, out);
    read_workload(r, spec, out);
    read_prefill(r, spec, out);
    read_decode(r, spec, out);
    read_scaling(r, spec, out);
    read_metrics(r, spec, out);
    if (out.metrics) out.metrics->ttft_percentile = out.plan.slo.ttft_percentile;
    const auto& w = out.plan.workload;
    if (r.errors.empty() && out.plan.prefill.queue_model == planner::QueueModel::MG1 &&
        !w.input_length_stddev && w.input_length_distribution.empty())
      r.fail(spec["prefill"]["queueModel"], "spec.prefill.queueModel",
             "MG1 needs the spread of input lengths: set spec.workload.inputLengthStdDev or "
             "spec.workload.inputLengthDistribution");
  }
  if (!r.errors.empty()) return tl::unexpected(r.errors);
  return out;
}

std::string format_error(const FieldError& e, std::string_view source) {
  std::string out(source);
  if (e.line > 0) out += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
  out += ": ";
  if (!e.path.empty()) out += e.path + ": ";
  return out + e.message;
}

std::optional<double> parse_duration(std::string_view s) {
  if (s == "0") return 0.0;
  double sign = 1;
  if (!s.empty() && s.front() == '-') {
    sign = -1;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    const std::string_view digits = s.substr(0, i);
    if (digits.front() == '.' || digits.back() == '.' ||
        digits.find('.') != digits.rfind('.'))
      return std::nullopt;
    double v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    s.remove_prefix(i);
    static const std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
    bool matched = false;
    for (const auto& [unit, scale] : kUnits) {
      // "m" must not swallow the "m" of "ms".
      if (s.substr(0, unit.size()) == unit &&
          !(unit == "m" && s.size() > 1 && s[1] == 's')) {
        total += v * scale;
        s.remove_prefix(unit.size());
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  return sign * total;
}

std::string format_duration(double seconds) {
  struct Unit {
    const char* name;
    double scale;
  };
  static const Unit kUnits[] = {{"h", 3600}, {"m", 60}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}};
  if (seconds == 0) return "0s";
  if (!std::isfinite(seconds)) return seconds > 0 ? "inf" : "-inf";
  const double a = std::abs(seconds);
  for (const auto& u : kUnits) {
    if (a >= u.scale || u.scale == 1e-9) {
      std::ostringstream os;
      os.precision(4);
      os << seconds / u.scale << u.name;
      return os.str();
    }
  }
  return "0s";
}

const char* to_string(Mode m) {
  switch (m) {
    case Mode::Auto: return "Auto";
    case Mode::Recommend: return "Recommend";
    case Mode::Off: return "Off";
  }
  return "Auto";
}

const char* to_string(Engine e) { return e == Engine::Sglang ? "sglang" : "vllm"; }

const char* to_string(planner::Rounding r) {
  return r == planner::Rounding::Nearest ? "Nearest" : "Ceil";
}

const char* to_string(planner::QueueModel q) {
  switch (q) {
    case planner::QueueModel::MM1: return "MM1";
    case planner::QueueModel::MD1: return "MD1";
    case planner::QueueModel::MG1: return "MG1";
  }
  return "MM1";
}

}  // namespace pdscaler::codec
