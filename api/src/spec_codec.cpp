#include "pdscaler/api/spec_codec.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <sstream>

#include "pdscaler/api/tolerant.h"

namespace pdscaler::api {
namespace {

using nlohmann::json;
using planner::ProfilePoint;

std::string num(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

// ---- YAML text to a JSON tree -----------------------------------------------------------------

std::pair<int, int> position(const YAML::Mark& m) { return {m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0}; }

// [-+]?[0-9]+ and [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, YAML 1.2 core's int and float.
bool is_core_number(std::string_view s, bool& integral) {
  std::size_t i = 0;
  auto run = [&] {
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  const std::size_t whole = run();
  integral = whole > 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    integral = false;
    if (run() == 0 && whole == 0) return false;
  } else if (whole == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    integral = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (run() == 0) return false;
  }
  return i == s.size();
}

// A plain scalar as YAML 1.2's core schema types it (.inf and .nan stay text: no spec field takes them).
json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  bool integral = false;
  if (!is_core_number(s, integral)) return s;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  const char* end = s.data() + s.size();
  if (integral) {
    long long v = 0;
    auto [at, ec] = std::from_chars(begin, end, v);
    if (ec == std::errc() && at == end) return v;
  }
  double v = 0;
  auto [at, ec] = std::from_chars(begin, end, v);
  if (ec == std::errc() && at == end && std::isfinite(v)) return v;
  return s;
}

class YamlToJson {
 public:
  SourcePositions positions;
  std::vector<FieldError> errors;

  json convert(const YAML::Node& n, const std::string& path) {
    positions.values.emplace(path, position(n.Mark()));
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        json out = json::object();
        for (auto it = n.begin(); it != n.end(); ++it) {
          if (!it->first.IsScalar()) {
            const auto [l, c] = position(it->first.Mark());
            errors.push_back({path, l, c, "a map key must be a plain string"});
            continue;
          }
          const std::string key = it->first.Scalar();
          const std::string sub = join_path(path, key);
          const auto [l, c] = position(it->first.Mark());
          if (out.contains(key)) {
            errors.push_back({sub, l, c, "duplicate field"});
            continue;
          }
          positions.keys.emplace(sub, std::pair{l, c});
          out[key] = convert(it->second, sub);
        }
        return out;
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (std::size_t i = 0; i < n.size(); ++i) out.push_back(convert(n[i], index_path(path, i)));
        return out;
      }
      case YAML::NodeType::Scalar:
        // Quoted or explicitly tagged scalars are strings; plain ones are typed.
        return n.Tag() == "?" ? plain_scalar(n.Scalar()) : json(n.Scalar());
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }
};

// ---- strict reading of the tree ---------------------------------------------------------------

class Reader {
 public:
  explicit Reader(const SourcePositions* p) : positions_(p) {}
  std::vector<FieldError> errors;

  // At the value of `path`, or of its nearest ancestor that has a position.
  void fail(const std::string& path, std::string message) { errors.push_back(at(path, false, std::move(message))); }
  // At the key of `path` (unknown and misplaced fields).
  void fail_key(const std::string& path, std::string message) { errors.push_back(at(path, true, std::move(message))); }

 private:
  FieldError at(const std::string& path, bool key, std::string message) const {
    FieldError e{path, 0, 0, std::move(message)};
    if (!positions_) return e;
    if (key) {
      if (auto it = positions_->keys.find(path); it != positions_->keys.end()) {
        std::tie(e.line, e.column) = it->second;
        return e;
      }
    }
    for (std::string p = path;; p = parent(p)) {
      if (auto it = positions_->values.find(p); it != positions_->values.end()) {
        std::tie(e.line, e.column) = it->second;
        return e;
      }
      if (p.empty()) return e;
    }
  }
  static std::string parent(const std::string& p) {
    const auto cut = p.find_last_of(".[");
    return cut == std::string::npos ? "" : p.substr(0, cut);
  }
  const SourcePositions* positions_;
};

struct Range {
  double lo = 0;
  bool lo_exclusive = false;
  std::optional<double> hi;
  bool hi_exclusive = false;
};
Range greater_than(double lo) { return Range{lo, true, std::nullopt, false}; }
Range at_least(double lo) { return Range{lo, false, std::nullopt, false}; }
// lo <= v < hi, or lo <= v <= hi.
Range from_to(double lo, double hi, bool hi_exclusive) { return Range{lo, false, hi, hi_exclusive}; }

// One map of the spec: every read names its key, so unknown keys can be reported when the section
// ends (a typo must not silently fall back to a default).
class Section {
 public:
  // The map at `node` (null: absent, an error when `required`).
  Section(Reader& r, const json* node, std::string path, bool required) : r_(r), node_(node), path_(std::move(path)) {
    if (!node_) {
      if (required) r_.fail(path_, "required field is missing");
      return;
    }
    if (!node_->is_object()) {
      r_.fail(path_, "expected a map, got " + show(*node_));
      node_ = nullptr;
    }
  }
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;
  ~Section() {
    if (!node_) return;
    for (auto it = node_->begin(); it != node_->end(); ++it) {
      bool ok = false;
      for (const auto& k : known_) ok = ok || k == it.key();
      if (ok) continue;
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      r_.fail_key(join_path(path_, it.key()), "unknown field (known here: " + list + ")");
    }
  }

  bool ok() const { return node_ != nullptr; }
  const std::string& path() const { return path_; }
  Reader& reader() { return r_; }
  std::string at(const char* key) const { return join_path(path_, key); }

  // The child `key` if present and not null; registers the key as known either way.
  const json* child(const char* key) {
    known_.emplace_back(key);
    if (!node_) return nullptr;
    const auto it = node_->find(key);
    return it == node_->end() || it->is_null() ? nullptr : &*it;
  }
  const json* child(const char* key, bool required) {
    const json* c = child(key);
    if (!c && required && node_) r_.fail(at(key), "required field is missing");
    return c;
  }
  Section section(const char* key, bool required) { return Section(r_, child(key), at(key), required && node_); }

  std::optional<double> number(const char* key, bool required, Range range) {
    const json* n = child(key, required);
    return n ? number_of(*n, at(key), range) : std::nullopt;
  }
  std::optional<int> integer(const char* key, bool required, int lo) {
    const json* n = child(key, required);
    return n ? integer_of(*n, at(key), lo) : std::nullopt;
  }
  std::optional<bool> boolean(const char* key) {
    const json* n = child(key);
    if (!n) return std::nullopt;
    if (n->is_boolean()) return n->get<bool>();
    r_.fail(at(key), "expected true or false, got " + show(*n));
    return std::nullopt;
  }
  std::optional<std::string> string(const char* key, bool required) {
    const json* n = child(key, required);
    if (!n) return std::nullopt;
    if (!n->is_string() || n->get_ref<const std::string&>().empty()) {
      r_.fail(at(key), "expected a non-empty string, got " + show(*n));
      return std::nullopt;
    }
    return n->get<std::string>();
  }
  std::optional<double> duration(const char* key, bool required, bool positive) {
    const json* n = child(key, required);
    return n ? duration_of(*n, at(key), positive) : std::nullopt;
  }
  template <typename E>
  std::optional<E> enumeration(const char* key, std::initializer_list<std::pair<const char*, E>> values) {
    const json* n = child(key);
    if (!n) return std::nullopt;
    std::string list;
    for (const auto& [name, value] : values) {
      if (n->is_string() && n->get_ref<const std::string&>() == name) return value;
      list += std::string(list.empty() ? "" : ", ") + name;
    }
    r_.fail(at(key), "unknown value " + show(*n) + " (expected one of: " + list + ")");
    return std::nullopt;
  }
  // Exactly one of `keys` is present; returns its index, or -1 (with an error).
  int one_of(std::initializer_list<const char*> keys) {
    int found = -1, count = 0, i = 0;
    std::string list;
    for (const char* k : keys) {
      if (child(k)) {
        found = i;
        ++count;
      }
      list += std::string(list.empty() ? "" : ", ") + k;
      ++i;
    }
    if (count != 1 && node_)
      r_.fail(path_ + ".{" + list + "}",
              count == 0 ? "one of these is required" : "give only one of these, not " + std::to_string(count));
    return count == 1 ? found : -1;
  }

  std::optional<double> number_of(const json& n, const std::string& path, Range range) {
    if (!n.is_number() || !std::isfinite(n.get<double>())) {
      r_.fail(path, "expected a number, got " + show(n));
      return std::nullopt;
    }
    const double v = n.get<double>();
    if (range.lo_exclusive ? !(v > range.lo) : !(v >= range.lo)) {
      r_.fail(path, std::string("must be ") + (range.lo_exclusive ? "greater than " : "at least ") + num(range.lo) +
                        ", got " + num(v));
      return std::nullopt;
    }
    if (range.hi && (range.hi_exclusive ? !(v < *range.hi) : !(v <= *range.hi))) {
      r_.fail(path, std::string("must be ") + (range.hi_exclusive ? "less than " : "at most ") + num(*range.hi) +
                        ", got " + num(v));
      return std::nullopt;
    }
    return v;
  }
  std::optional<int> integer_of(const json& n, const std::string& path, int lo) {
    if (!n.is_number() || !std::isfinite(n.get<double>())) {
      r_.fail(path, "expected a number, got " + show(n));
      return std::nullopt;
    }
    const double v = n.get<double>();
    if (v != std::floor(v) || std::abs(v) > 1e9) {
      r_.fail(path, "expected a whole number, got " + show(n));
      return std::nullopt;
    }
    if (v < lo) {
      r_.fail(path, "must be at least " + std::to_string(lo) + ", got " + num(v));
      return std::nullopt;
    }
    return static_cast<int>(v);
  }
  std::optional<double> duration_of(const json& n, const std::string& path, bool positive) {
    const auto v = n.is_string() ? parse_duration(n.get_ref<const std::string&>()) : std::nullopt;
    if (!v) {
      r_.fail(path, "expected a duration like \"2s\" or \"100ms\", got " + show(n) +
                        (n.is_number() ? " (a number: a duration needs its unit)" : ""));
      return std::nullopt;
    }
    if (*v < 0 || (positive && *v == 0)) {
      r_.fail(path, std::string("must be ") + (positive ? "positive" : "zero or more") + ", got " + show(n));
      return std::nullopt;
    }
    return v;
  }

 private:
  Reader& r_;
  const json* node_;
  std::string path_;
  std::vector<std::string> known_;
};

// `own_namespace`: the PDDeployment's ("" when the manifest does not say). A target elsewhere is
// refused: the operator's RBAC, its caches and its writes are per namespace, and writing to a
// same-named workload here instead would scale the wrong fleet.
std::optional<ScaleTargetRef> read_target(Section& role, const std::string& own_namespace) {
  Section s = role.section("scaleTargetRef", true);
  auto api = s.string("apiVersion", true);
  auto kind = s.string("kind", true);
  auto name = s.string("name", true);
  if (auto ns = s.string("namespace", false); ns && !own_namespace.empty() && *ns != own_namespace)
    s.reader().fail(s.at("namespace"), "\"" + *ns + "\" is not this PDDeployment's namespace (\"" + own_namespace +
                                           "\"): a PDDeployment scales workloads in its own namespace only");
  if (!api || !kind || !name) return std::nullopt;
  return ScaleTargetRef{*api, *kind, *name};
}

void read_replica_bounds(Section& role, int& min, int& max) {
  auto lo = role.integer("minReplicas", false, 0);
  auto hi = role.integer("maxReplicas", false, 1);
  if (lo) min = *lo;
  if (hi) max = *hi;
  if (min > max)
    role.reader().fail(role.at("maxReplicas"),
                       "must be at least minReplicas (" + std::to_string(min) + "), got " + std::to_string(max));
}

// A list of {x, y} maps turned into a validated profile; errors point at the offending element.
std::optional<planner::Profile> read_profile(Section& parent, const char* key, const char* x_key, const char* y_key,
                                             bool y_is_duration, bool x_integral, planner::ProfileShape shape,
                                             std::vector<std::string>& warnings) {
  const json* list = parent.child(key, true);
  if (!list) return std::nullopt;
  const std::string path = parent.at(key);
  Reader& r = parent.reader();
  if (!list->is_array() || list->empty()) {
    r.fail(path, "expected a non-empty list of {" + std::string(x_key) + ", " + y_key + "}, got " + show(*list));
    return std::nullopt;
  }
  std::vector<ProfilePoint> points;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Section e(r, &(*list)[i], index_path(path, i), true);
    std::optional<double> x;
    if (x_integral) {
      if (auto xi = e.integer(x_key, true, 1)) x = *xi;
    } else {
      x = e.number(x_key, true, greater_than(0));
    }
    std::optional<double> y = y_is_duration ? e.duration(y_key, true, true) : e.number(y_key, true, greater_than(0));
    if (!e.ok() || !x || !y) {
      ok = false;
      continue;
    }
    points.push_back({*x, *y});
  }
  if (!ok) return std::nullopt;
  // The library would sort them, but in a hand-written manifest a point out of order is more often
  // a typo (16 for 64) than intent: ask for the table in order.
  for (std::size_t i = 1; i < points.size(); ++i) {
    if (points[i].x <= points[i - 1].x) {
      r.fail(index_path(path, i) + "." + x_key,
             num(points[i].x) + " is not greater than the previous point's " + num(points[i - 1].x) +
                 ": list the points in increasing " + x_key + ", each once");
      return std::nullopt;
    }
  }
  auto built = planner::Profile::build(points, shape);
  if (!built) {
    const auto& err = built.error();
    const std::string p = err.index >= 0 ? index_path(path, static_cast<std::size_t>(err.index)) : path;
    const std::string field = err.field == "x" ? "." + std::string(x_key) : err.field == "y" ? "." + std::string(y_key) : "";
    r.fail(p + field, err.message);
    return std::nullopt;
  }
  for (const auto& note : built->notes())
    warnings.push_back(index_path(path, static_cast<std::size_t>(note.index)) + ": " + note.message);
  return *built;
}

void read_slo(Section& spec, PDDeploymentSpec& out) {
  Section s = spec.section("slo", true);
  if (auto v = s.duration("ttft", true, true)) out.plan.slo.ttft_s = *v;
  if (auto v = s.duration("tpot", true, true)) out.plan.slo.tpot_s = *v;
  if (auto v = s.number("ttftPercentile", false, from_to(0, 100, true))) out.plan.slo.ttft_percentile = *v;
  if (auto v = s.number("attainment", false, Range{0, true, 100.0, true})) out.plan.slo.attainment = *v;
  if (out.plan.slo.attainment && out.plan.slo.ttft_percentile > 0)
    s.reader().fail(s.at("ttftPercentile"),
                    "give ttftPercentile or attainment, not both: attainment already covers TTFT per request");
}

// `<what>Length` (a mean), or `<what>LengthDistribution` (buckets {<what>Length, weight}, whose
// weighted mean becomes the mean) in its place and in place of `<what>LengthStdDev`.
void read_lengths(Section& s, const std::string& what, double& mean, std::vector<planner::LengthBucket>& dist) {
  const std::string len_field = what + "Length", dist_field = what + "LengthDistribution",
                    sd_field = what + "LengthStdDev";
  const json* list = s.child(dist_field.c_str());
  if (list && s.child(len_field.c_str())) s.reader().fail(s.at(len_field.c_str()), "give " + len_field + " or " + dist_field + ", not both");
  if (list && s.child(sd_field.c_str())) s.reader().fail(s.at(sd_field.c_str()), "give " + sd_field + " or " + dist_field + ", not both");
  if (!list) {
    if (auto v = s.number(len_field.c_str(), true, greater_than(0))) mean = *v;
    return;
  }
  const std::string lp = s.at(dist_field.c_str());
  if (!list->is_array() || list->empty()) {
    s.reader().fail(lp, "expected a non-empty list of {" + len_field + ", weight}, got " + show(*list));
    return;
  }
  double total = 0, sum = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Section e(s.reader(), &(*list)[i], index_path(lp, i), true);
    auto len = e.number(len_field.c_str(), true, greater_than(0));
    auto wt = e.number("weight", true, greater_than(0));
    if (len && wt) {
      dist.push_back({*len, *wt});
      total += *wt;
      sum += *wt * *len;
    }
  }
  if (total > 0) mean = sum / total;
}

void read_workload(Section& spec, PDDeploymentSpec& out) {
  Section s = spec.section("workload", true);
  auto& w = out.plan.workload;
  static const char* kRates[] = {"tokensPerMinute", "tokensPerSecond", "requestsPerSecond"};
  const int rate = s.one_of({kRates[0], kRates[1], kRates[2]});
  if (rate >= 0) {
    out.rate_field = kRates[rate];
    if (auto v = s.number(kRates[rate], true, at_least(0))) {
      w.rate = rate == 0 ? *v / 60 : *v;
      w.rate_unit = rate == 2 ? planner::RateUnit::RequestsPerSecond : planner::RateUnit::TokensPerSecond;
    }
  }
  read_lengths(s, "input", w.input_length, w.input_length_distribution);
  // Output lengths as a histogram (a code assistant's answers: no output under a few tokens, a
  // long tail), in place of the mean and the lognormal that outputLengthStdDev stands for.
  read_lengths(s, "output", w.output_length, w.output_length_distribution);
  if (auto v = s.number("inputLengthStdDev", false, at_least(0))) w.input_length_stddev = *v;
  if (auto v = s.number("outputLengthStdDev", false, at_least(0))) w.output_length_stddev = *v;
  if (auto v = s.number("prefixCacheHitRate", false, from_to(0, 1, true))) w.prefix_cache_hit_rate = *v;
  if (auto v = s.number("arrivalDispersion", false, greater_than(0))) w.arrival_dispersion = *v;
}

std::optional<planner::Routing> read_routing(Section& s) {
  return s.enumeration<planner::Routing>("routing",
                                         {{"LeastLoaded", planner::Routing::LeastLoaded}, {"Random", planner::Routing::Random}});
}

void read_prefill(Section& spec, PDDeploymentSpec& out, const std::string& own_namespace) {
  Section s = spec.section("prefill", true);
  auto& role = out.plan.prefill;
  if (auto t = read_target(s, own_namespace)) out.prefill_target = *t;
  if (auto v = s.integer("gpusPerReplica", false, 1)) role.gpus_per_replica = *v;
  const int which = s.one_of({"maxThroughput", "throughputByInputLength"});
  if (which == 0) {
    if (auto v = s.number("maxThroughput", true, greater_than(0)))
      role.max_throughput = *planner::Profile::build({{1, *v}}, planner::ProfileShape::Free);
  } else if (which == 1) {
    if (auto prof = read_profile(s, "throughputByInputLength", "inputLength", "maxThroughput", false, false,
                                 planner::ProfileShape::Free, out.warnings))
      role.max_throughput = *prof;
  }
  if (auto v = s.duration("overhead", false, false)) role.overhead_s = *v;
  if (auto v = s.duration("overheadPerInputToken", false, false)) role.overhead_per_input_token_s = *v;
  if (auto v = s.integer("dataParallelSize", false, 1)) role.data_parallel_size = *v;
  if (auto v = s.enumeration<planner::QueueModel>(
          "queueModel",
          {{"MM1", planner::QueueModel::MM1}, {"MD1", planner::QueueModel::MD1}, {"MG1", planner::QueueModel::MG1}}))
    role.queue_model = *v;
  if (auto v = read_routing(s)) role.routing = *v;
  read_replica_bounds(s, role.min_replicas, role.max_replicas);
}

void read_decode(Section& spec, PDDeploymentSpec& out, const std::string& own_namespace) {
  Section s = spec.section("decode", true);
  auto& role = out.plan.decode;
  if (auto t = read_target(s, own_namespace)) {
    out.decode_target = *t;
    // One workload for both roles would get the prefill count, then the decode count, each
    // reconcile: a fleet that never settles.
    auto group = [](const std::string& api_version) { return api_version.substr(0, api_version.rfind('/') + 1); };
    const ScaleTargetRef& p = out.prefill_target;
    if (!p.name.empty() && p.name == t->name && p.kind == t->kind && group(p.api_version) == group(t->api_version))
      s.reader().fail(s.at("scaleTargetRef"), "is the same workload as spec.prefill.scaleTargetRef (" + t->kind + " " +
                                                  t->name + "): prefill and decode each need their own");
  }
  if (auto v = s.integer("gpusPerReplica", false, 1)) role.gpus_per_replica = *v;
  if (auto prof = read_profile(s, "tpotByBatchSize", "batchSize", "tpot", true, true,
                               planner::ProfileShape::NonDecreasing, out.warnings))
    role.tpot_by_batch = *prof;
  if (auto v = s.integer("maxBatchSize", false, 1)) role.max_batch_size = *v;
  if (auto v = read_routing(s)) role.routing = *v;
  read_replica_bounds(s, role.min_replicas, role.max_replicas);
}

void read_scaling(Section& spec, PDDeploymentSpec& out) {
  Section s = spec.section("scaling", false);
  if (auto v = s.enumeration<planner::Rounding>("rounding",
                                                {{"Ceil", planner::Rounding::Ceil}, {"Nearest", planner::Rounding::Nearest}}))
    out.plan.rounding = *v;
  if (auto v = s.integer("maxTotalGpus", false, 1)) out.plan.max_total_gpus = *v;
  if (auto v = s.enumeration<OverridePolicy>("onOverride",
                                             {{"Reassert", OverridePolicy::Reassert}, {"Yield", OverridePolicy::Yield}}))
    out.on_override = *v;
  if (auto v = s.duration("pendingTimeout", false, true)) out.pending_timeout_s = *v;
  if (auto v = s.duration("capacityRetryInterval", false, true)) out.capacity_retry_s = *v;
}

std::optional<SecretKeyRef> read_secret_ref(Section& parent, const char* key) {
  Section s = parent.section(key, false);
  auto name = s.string("name", true);
  auto k = s.string("key", true);
  if (!name || !k) return std::nullopt;
  return SecretKeyRef{*name, *k};
}

void read_metrics(Section& spec, PDDeploymentSpec& out) {
  Section s = spec.section("metrics", false);
  if (!s.ok()) return;
  MetricsSpec m;
  {
    Section prom = s.section("prometheus", true);
    if (auto v = prom.string("url", true)) {
      if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
        s.reader().fail(prom.at("url"), "expected an http:// or https:// URL, got \"" + *v + "\"");
      m.prometheus_url = *v;
      while (!m.prometheus_url.empty() && m.prometheus_url.back() == '/') m.prometheus_url.pop_back();
    }
    m.bearer_token_secret = read_secret_ref(prom, "bearerTokenSecret");
    m.ca_secret = read_secret_ref(prom, "caSecret");
  }
  if (auto v = s.enumeration<Engine>(
          "engine", {{"vllm", Engine::Vllm}, {"sglang", Engine::Sglang}, {"dynamo", Engine::Dynamo}, {"custom", Engine::Custom}}))
    m.engine = *v;
  for (auto [key, into] : {std::pair{"prefillSelector", &m.prefill_selector}, std::pair{"decodeSelector", &m.decode_selector},
                           std::pair{"frontendSelector", &m.frontend_selector}}) {
    const bool required = std::string_view(key) == "frontendSelector" ? m.engine == Engine::Dynamo : true;
    if (auto v = s.string(key, required)) {
      if (v->find_first_of("{}") != std::string::npos)
        s.reader().fail(s.at(key), "label matchers without braces, like job=\"prefill\", got \"" + *v + "\"");
      *into = *v;
    }
  }
  if (auto v = s.duration("window", false, true)) m.window_s = *v;
  if (auto v = s.duration("evaluationInterval", false, true)) m.evaluation_interval_s = *v;
  if (auto v = s.duration("startupTime", false, false)) m.startup_s = *v;
  if (auto v = s.duration("scaleDownWindow", false, false)) m.scale_down_window_s = *v;
  {
    Section q = s.section("queries", m.engine == Engine::Custom);
    for (auto [key, into] : {std::pair{"completions", &m.queries.completions},
                             std::pair{"inFlightGrowth", &m.queries.in_flight_growth},
                             std::pair{"meanInputLength", &m.queries.mean_input_length},
                             std::pair{"meanOutputLength", &m.queries.mean_output_length},
                             std::pair{"meanTtft", &m.queries.mean_ttft}, std::pair{"meanTpot", &m.queries.mean_tpot}}) {
      // A custom engine has no preset: the load and the lengths must be given.
      const std::string_view k = key;
      const bool required =
          q.ok() && m.engine == Engine::Custom && (k == "completions" || k == "meanInputLength" || k == "meanOutputLength");
      if (auto v = q.string(key, required)) *into = *v;
    }
  }
  {
    Section c = s.section("calibration", false);
    if (auto v = c.boolean("enabled")) m.calibration.enabled = *v;
    if (auto v = c.number("maxCorrection", false, from_to(0, 1, false))) m.calibration.max_correction = *v;
    if (auto v = c.integer("minRequests", false, 1)) m.calibration.min_requests = *v;
  }
  {
    Section f = s.section("fallback", false);
    if (f.ok()) {
      FallbackSpec fb;
      if (auto v = f.integer("afterFailures", true, 1)) fb.after_failures = *v;
      if (auto v = f.integer("prefillReplicas", true, 1)) fb.prefill_replicas = *v;
      if (auto v = f.integer("decodeReplicas", true, 1)) fb.decode_replicas = *v;
      m.fallback = fb;
    }
  }
  out.metrics = m;
}

void read_metadata(Section& root, std::string* name, std::string* namespace_) {
  const json* md = root.child("metadata");
  if (!md) return;
  if (!md->is_object()) {
    root.reader().fail("metadata", "expected a map, got " + show(*md));
    return;
  }
  // The API server adds many fields here; only these two are read.
  for (auto [key, into] : {std::pair{"name", name}, std::pair{"namespace", namespace_}}) {
    const auto it = md->find(key);
    if (it == md->end() || it->is_null()) continue;
    if (!it->is_string() || it->get_ref<const std::string&>().empty())
      root.reader().fail(join_path("metadata", key), "expected a non-empty string, got " + show(*it));
    else if (into)
      *into = it->get<std::string>();
  }
}

tl::expected<Manifest, std::vector<FieldError>> decode_object(const json& object, const SourcePositions* positions) {
  Reader r(positions);
  Manifest out;
  if (object.is_null()) {
    r.fail("", "the document is empty");
    return tl::unexpected(r.errors);
  }
  {
    Section root(r, &object, "", true);
    if (!root.ok()) return tl::unexpected(r.errors);
    auto api = root.string("apiVersion", true);
    if (api && *api != kGroupVersion)
      r.fail("apiVersion", "expected \"" + std::string(kGroupVersion) + "\", got \"" + *api + "\"");
    auto kind = root.string("kind", true);
    if (kind && *kind != kKind) r.fail("kind", "expected \"" + std::string(kKind) + "\", got \"" + *kind + "\"");
    read_metadata(root, &out.name, &out.namespace_);
    root.child("status");  // written by the operator, not part of the spec
    Section spec = root.section("spec", true);
    if (spec.ok()) {
      if (auto v = spec.enumeration<Mode>("mode", {{"Auto", Mode::Auto}, {"Recommend", Mode::Recommend}, {"Off", Mode::Off}}))
        out.mode = *v;
      read_slo(spec, out);
      read_workload(spec, out);
      read_prefill(spec, out, out.namespace_);
      read_decode(spec, out, out.namespace_);
      read_scaling(spec, out);
      read_metrics(spec, out);
      if (out.metrics) out.metrics->ttft_percentile = out.plan.slo.ttft_percentile;
      const auto& w = out.plan.workload;
      if (r.errors.empty() && out.plan.prefill.queue_model == planner::QueueModel::MG1 && !w.input_length_stddev &&
          w.input_length_distribution.empty())
        r.fail("spec.prefill.queueModel",
               "MG1 needs the spread of input lengths: set spec.workload.inputLengthStdDev or "
               "spec.workload.inputLengthDistribution");
    }
  }
  if (!r.errors.empty()) return tl::unexpected(r.errors);
  return out;
}

}  // namespace

tl::expected<ParsedManifest, std::vector<FieldError>> parse_manifest(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    const auto [l, c] = position(e.mark);
    return tl::unexpected(std::vector<FieldError>{{"", l, c, "not valid YAML or JSON: " + e.msg}});
  }
  YamlToJson conv;
  ParsedManifest out;
  out.tree = conv.convert(root, "");
  if (!conv.errors.empty()) return tl::unexpected(conv.errors);
  out.positions = std::move(conv.positions);
  return out;
}

tl::expected<PDDeploymentSpec, std::vector<FieldError>> decode_spec(const json& object, const SourcePositions* positions) {
  return decode_object(object, positions).map([](Manifest&& m) { return PDDeploymentSpec(std::move(m)); });
}

tl::expected<Manifest, std::vector<FieldError>> decode_manifest(std::string_view text) {
  auto parsed = parse_manifest(text);
  if (!parsed) return tl::unexpected(parsed.error());
  return decode_object(parsed->tree, &parsed->positions);
}

std::string format_error(const FieldError& e, std::string_view source) {
  std::string out(source);
  if (e.line > 0) out += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
  out += ": ";
  if (!e.path.empty()) out += e.path + ": ";
  return out + e.message;
}

std::string describe(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + (e.path.empty() ? "" : e.path + ": ") + e.message;
  return out;
}

}  // namespace pdscaler::api
