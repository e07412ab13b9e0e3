#include "pdscaler/api/objects.h"

#include <algorithm>

namespace pdscaler::api {

using nlohmann::json;

namespace {
template <class T, class F>
tl::expected<Decoded<T>, std::string> from_text(std::string_view text, F decode) {
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return tl::unexpected(std::string("not JSON"));
  if (!j.is_object()) return tl::unexpected("expected a JSON object, got " + show(j));
  return decode(j);
}

ConditionStatus condition_status(const json& c, const std::string& path, TolerantReader& r) {
  const auto s = r.string(c, "status", path);
  if (s == "True") return ConditionStatus::True;
  if (s == "False") return ConditionStatus::False;
  if (s && *s != "Unknown") r.warn(path, "unknown condition status \"" + *s + "\"; read as Unknown");
  return ConditionStatus::Unknown;
}
}  // namespace

ObjectMeta decode_object_meta(const json& object, TolerantReader& r) {
  ObjectMeta m;
  const json* md = r.object(object, "metadata", "metadata");
  if (!md) return m;
  m.name = r.string(*md, "name", "metadata.name").value_or("");
  m.namespace_ = r.string(*md, "namespace", "metadata.namespace").value_or("");
  m.uid = r.string(*md, "uid", "metadata.uid").value_or("");
  m.resource_version = r.string(*md, "resourceVersion", "metadata.resourceVersion").value_or("");
  m.generation = r.integer(*md, "generation", "metadata.generation").value_or(0);
  m.creation_timestamp = r.time(*md, "creationTimestamp", "metadata.creationTimestamp");
  m.deletion_timestamp = r.time(*md, "deletionTimestamp", "metadata.deletionTimestamp");
  if (const json* labels = r.object(*md, "labels", "metadata.labels"))
    for (auto it = labels->begin(); it != labels->end(); ++it)
      if (auto v = r.as_string(*it, "metadata.labels." + it.key())) m.labels[it.key()] = *v;
  return m;
}

ListMeta decode_list_meta(const json& list) {
  std::vector<std::string> ignored;
  TolerantReader r(ignored);
  ListMeta m;
  if (const json* md = r.object(list, "metadata", "metadata")) {
    m.resource_version = r.string(*md, "resourceVersion", "metadata.resourceVersion").value_or("");
    m.continue_token = r.string(*md, "continue", "metadata.continue").value_or("");
  }
  return m;
}

// ---- label selectors --------------------------------------------------------------------------

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  if (invalid) return false;
  for (const auto& r : requirements) {
    const auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool listed = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case LabelRequirement::Op::In:
        if (!listed) return false;
        break;
      case LabelRequirement::Op::NotIn:
        if (listed) return false;
        break;
      case LabelRequirement::Op::Exists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::DoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

LabelSelector decode_label_selector(const json& selector, const std::string& path, TolerantReader& r) {
  LabelSelector out;
  if (!r.as_object(selector, path)) {
    out.invalid = true;
    return out;
  }
  if (const json* ml = r.object(selector, "matchLabels", join_path(path, "matchLabels"))) {
    for (auto it = ml->begin(); it != ml->end(); ++it) {
      if (auto v = r.as_string(*it, join_path(path, "matchLabels." + it.key())))
        out.requirements.push_back({it.key(), LabelRequirement::Op::In, {*v}});
      else
        out.invalid = true;
    }
  }
  if (const json* me = r.array(selector, "matchExpressions", join_path(path, "matchExpressions"))) {
    for (std::size_t i = 0; i < me->size(); ++i) {
      const std::string ep = index_path(join_path(path, "matchExpressions"), i);
      const json& e = (*me)[i];
      const auto key = r.string(e, "key", ep + ".key");
      const auto op = r.string(e, "operator", ep + ".operator");
      LabelRequirement req;
      if (op == "In") req.op = LabelRequirement::Op::In;
      else if (op == "NotIn") req.op = LabelRequirement::Op::NotIn;
      else if (op == "Exists") req.op = LabelRequirement::Op::Exists;
      else if (op == "DoesNotExist") req.op = LabelRequirement::Op::DoesNotExist;
      else {
        if (op) r.warn(ep + ".operator", "unknown operator \"" + *op + "\"; the selector matches nothing");
        out.invalid = true;
        continue;
      }
      if (!key) {
        out.invalid = true;
        continue;
      }
      req.key = *key;
      if (const json* vals = r.array(e, "values", ep + ".values"))
        for (std::size_t j = 0; j < vals->size(); ++j)
          if (auto v = r.as_string((*vals)[j], index_path(ep + ".values", j))) req.values.push_back(*v);
      out.requirements.push_back(std::move(req));
    }
  }
  return out;
}

namespace {
class SelectorParser {
 public:
  explicit SelectorParser(std::string_view s) : s_(s) {}

  tl::expected<LabelSelector, std::string> parse() {
    LabelSelector out;
    skip_space();
    if (done()) return out;
    while (true) {
      auto req = requirement();
      if (!req) return tl::unexpected(req.error());
      out.requirements.push_back(std::move(*req));
      skip_space();
      if (done()) return out;
      if (!eat(",")) return tl::unexpected(error("expected ','"));
    }
  }

 private:
  tl::expected<LabelRequirement, std::string> requirement() {
    skip_space();
    LabelRequirement r;
    if (eat("!")) {
      r.op = LabelRequirement::Op::DoesNotExist;
      r.key = word();
      if (r.key.empty()) return tl::unexpected(error("expected a label key after '!'"));
      return r;
    }
    r.key = word();
    if (r.key.empty()) return tl::unexpected(error("expected a label key"));
    skip_space();
    if (done() || peek(",")) {
      r.op = LabelRequirement::Op::Exists;
      return r;
    }
    if (eat("==") || eat("=")) {
      r.op = LabelRequirement::Op::In;
      skip_space();
      r.values.push_back(word());
      return r;
    }
    if (eat("!=")) {
      r.op = LabelRequirement::Op::NotIn;
      skip_space();
      r.values.push_back(word());
      return r;
    }
    const std::string op = word();
    if (op != "in" && op != "notin") return tl::unexpected(error("expected =, ==, !=, in or notin"));
    r.op = op == "in" ? LabelRequirement::Op::In : LabelRequirement::Op::NotIn;
    skip_space();
    if (!eat("(")) return tl::unexpected(error("expected '('"));
    while (true) {
      skip_space();
      r.values.push_back(word());
      skip_space();
      if (eat(")")) return r;
      if (!eat(",")) return tl::unexpected(error("expected ',' or ')'"));
    }
  }

  // Label keys and values: letters, digits, '-', '_', '.', and '/' (the key's prefix).
  std::string word() {
    const std::size_t from = at_;
    while (at_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[at_])) || s_[at_] == '-' || s_[at_] == '_' ||
                               s_[at_] == '.' || s_[at_] == '/'))
      ++at_;
    return std::string(s_.substr(from, at_ - from));
  }
  void skip_space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t')) ++at_;
  }
  bool peek(std::string_view t) const { return s_.substr(at_, t.size()) == t; }
  bool eat(std::string_view t) {
    if (!peek(t)) return false;
    at_ += t.size();
    return true;
  }
  bool done() const { return at_ >= s_.size(); }
  std::string error(const std::string& what) const {
    return what + " at character " + std::to_string(at_ + 1) + " of \"" + std::string(s_.substr(0, 200)) + "\"";
  }

  std::string_view s_;
  std::size_t at_ = 0;
};
}  // namespace

tl::expected<LabelSelector, std::string> parse_label_selector(std::string_view text) {
  return SelectorParser(text).parse();
}

// ---- workloads, pods, /scale, Leases ---------------------------------------------------------------

Decoded<Workload> decode_workload(const json& object) {
  Decoded<Workload> out;
  TolerantReader r(out.warnings);
  Workload& w = out.value;
  w.metadata = decode_object_meta(object, r);
  if (const json* spec = r.object(object, "spec", "spec")) {
    w.spec_replicas = r.int32(*spec, "replicas", "spec.replicas").value_or(1);
    if (const json* sel = r.member(*spec, "selector", "spec.selector"))
      w.selector = decode_label_selector(*sel, "spec.selector", r);
  }
  if (const json* st = r.object(object, "status", "status")) {
    w.status_replicas = r.int32(*st, "replicas", "status.replicas").value_or(0);
    w.ready_replicas = r.int32(*st, "readyReplicas", "status.readyReplicas").value_or(0);
  }
  return out;
}

tl::expected<Decoded<Workload>, std::string> decode_workload_text(std::string_view text) {
  return from_text<Workload>(text, [](const json& j) { return decode_workload(j); });
}

Decoded<Pod> decode_pod(const json& object) {
  Decoded<Pod> out;
  TolerantReader r(out.warnings);
  Pod& p = out.value;
  p.metadata = decode_object_meta(object, r);
  if (const json* spec = r.object(object, "spec", "spec")) p.node_name = r.string(*spec, "nodeName", "spec.nodeName").value_or("");
  const json* st = r.object(object, "status", "status");
  const json* conds = st ? r.array(*st, "conditions", "status.conditions") : nullptr;
  if (!conds) return out;
  for (std::size_t i = 0; i < conds->size(); ++i) {
    const json& c = (*conds)[i];
    const std::string cp = index_path("status.conditions", i);
    if (!r.as_object(c, cp)) continue;
    const auto type = r.string(c, "type", cp + ".type");
    if (type != "Ready" && type != "PodScheduled") continue;
    const std::string path = "status.conditions[" + *type + "]";
    PodCondition pc;
    pc.status = condition_status(c, path + ".status", r);
    pc.reason = r.string(c, "reason", path + ".reason").value_or("");
    pc.message = r.string(c, "message", path + ".message").value_or("");
    pc.last_transition_time = r.time(c, "lastTransitionTime", path + ".lastTransitionTime");
    (*type == "Ready" ? p.ready : p.scheduled) = std::move(pc);
  }
  return out;
}

tl::expected<Decoded<Pod>, std::string> decode_pod_text(std::string_view text) {
  return from_text<Pod>(text, [](const json& j) { return decode_pod(j); });
}

Decoded<Scale> decode_scale(const json& object) {
  Decoded<Scale> out;
  TolerantReader r(out.warnings);
  Scale& s = out.value;
  s.resource_version = decode_object_meta(object, r).resource_version;
  if (const json* spec = r.object(object, "spec", "spec")) s.spec_replicas = r.int32(*spec, "replicas", "spec.replicas").value_or(0);
  if (const json* st = r.object(object, "status", "status")) {
    s.status_replicas = r.int32(*st, "replicas", "status.replicas").value_or(0);
    s.selector = r.string(*st, "selector", "status.selector").value_or("");
  }
  return out;
}

tl::expected<Decoded<Scale>, std::string> decode_scale_text(std::string_view text) {
  return from_text<Scale>(text, [](const json& j) { return decode_scale(j); });
}

Decoded<Lease> decode_lease(const json& object) {
  Decoded<Lease> out;
  TolerantReader r(out.warnings);
  Lease& l = out.value;
  const ObjectMeta m = decode_object_meta(object, r);
  l.namespace_ = m.namespace_;
  l.name = m.name;
  l.resource_version = m.resource_version;
  if (const json* spec = r.object(object, "spec", "spec")) {
    l.holder = r.string(*spec, "holderIdentity", "spec.holderIdentity").value_or("");
    l.lease_duration_s = r.int32(*spec, "leaseDurationSeconds", "spec.leaseDurationSeconds").value_or(15);
    l.acquire_time = r.string(*spec, "acquireTime", "spec.acquireTime").value_or("");
    l.renew_time = r.string(*spec, "renewTime", "spec.renewTime").value_or("");
    l.transitions = r.int32(*spec, "leaseTransitions", "spec.leaseTransitions").value_or(0);
  }
  return out;
}

tl::expected<Decoded<Lease>, std::string> decode_lease_text(std::string_view text) {
  return from_text<Lease>(text, [](const json& j) { return decode_lease(j); });
}

json encode_lease(const Lease& l) {
  json spec = {{"holderIdentity", l.holder}, {"leaseDurationSeconds", l.lease_duration_s}, {"leaseTransitions", l.transitions}};
  if (!l.acquire_time.empty()) spec["acquireTime"] = l.acquire_time;
  if (!l.renew_time.empty()) spec["renewTime"] = l.renew_time;
  json meta = {{"name", l.name}, {"namespace", l.namespace_}};
  if (!l.resource_version.empty()) meta["resourceVersion"] = l.resource_version;
  return {{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", meta}, {"spec", spec}};
}

// ---- the watch stream -------------------------------------------------------------------------

ApiStatus decode_api_status(const json& object) {
  std::vector<std::string> ignored;
  TolerantReader r(ignored);
  ApiStatus s;
  s.code = r.int32(object, "code", "code").value_or(0);
  s.reason = r.string(object, "reason", "reason").value_or("");
  s.message = r.string(object, "message", "message").value_or("");
  return s;
}

const char* to_string(WatchEventType t) {
  switch (t) {
    case WatchEventType::Added: return "ADDED";
    case WatchEventType::Modified: return "MODIFIED";
    case WatchEventType::Deleted: return "DELETED";
    case WatchEventType::Bookmark: return "BOOKMARK";
    case WatchEventType::Error: return "ERROR";
  }
  return "ERROR";
}

tl::expected<WatchEvent, std::string> parse_watch_line(std::string_view line) {
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return tl::unexpected(std::string("not JSON"));
  if (!j.is_object()) return tl::unexpected("expected a JSON object, got " + show(j));
  const auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return tl::unexpected(std::string("no \"type\""));
  const auto object = j.find("object");
  if (object == j.end() || !object->is_object()) return tl::unexpected(std::string("no \"object\""));
  WatchEvent ev;
  const std::string& t = type->get_ref<const std::string&>();
  static const std::pair<const char*, WatchEventType> kTypes[] = {{"ADDED", WatchEventType::Added},
                                                                 {"MODIFIED", WatchEventType::Modified},
                                                                 {"DELETED", WatchEventType::Deleted},
                                                                 {"BOOKMARK", WatchEventType::Bookmark},
                                                                 {"ERROR", WatchEventType::Error}};
  bool known = false;
  for (const auto& [name, value] : kTypes)
    if (t == name) {
      ev.type = value;
      known = true;
    }
  if (!known) return tl::unexpected("unknown event type \"" + t.substr(0, 40) + "\"");
  ev.object = std::move(*object);
  if (ev.type == WatchEventType::Error) {
    ev.error = decode_api_status(ev.object);
    return ev;
  }
  const auto md = ev.object.find("metadata");
  if (md != ev.object.end() && md->is_object()) {
    const auto rv = md->find("resourceVersion");
    if (rv != md->end() && rv->is_string()) ev.resource_version = rv->get<std::string>();
  }
  return ev;
}

}  // namespace pdscaler::api
