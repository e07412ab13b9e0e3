// The Kubernetes objects the operator reads, as the API server (or a node agent) may really write
// them: nulls where the API allows them, missing optional fields, values of the wrong type. Each
// reads as far as it can, with warnings naming the field, and never throws.
#include <gtest/gtest.h>

#include "pdscaler/api/objects.h"

namespace pdscaler::api {
namespace {

using nlohmann::json;

std::string all(const std::vector<std::string>& warnings) {
  std::string out;
  for (const auto& w : warnings) out += w + "\n";
  return out;
}

// A Running pod as a node agent that leaves transition times unset writes it (Go serialises the
// zero metav1.Time as null). This made every reconcile fail with a json type_error before.
constexpr const char* kPodWithNullTimes = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "p-1", "namespace": "llm", "uid": "u", "resourceVersion": "41",
               "creationTimestamp": "2026-11-22T20:40:00Z", "labels": {"app": "prefill", "tier": "gpu"}},
  "spec": {"nodeName": "gpu-node-0", "containers": [{"name": "engine"}]},
  "status": {"phase": "Running", "conditions": [
    {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": null},
    {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": null},
    {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-22T20:40:01Z"}]}
})";

TEST(Pod, NullTransitionTimeIsUnknownWithAWarning) {
  auto d = decode_pod_text(kPodWithNullTimes);
  ASSERT_TRUE(d) << d.error();
  const Pod& p = d->value;
  EXPECT_EQ(p.metadata.name, "p-1");
  EXPECT_EQ(p.metadata.labels.at("tier"), "gpu");
  EXPECT_EQ(p.node_name, "gpu-node-0");
  ASSERT_TRUE(p.ready);
  EXPECT_EQ(p.ready->status, ConditionStatus::True);
  EXPECT_FALSE(p.ready->last_transition_time);
  ASSERT_TRUE(p.scheduled);
  EXPECT_EQ(p.scheduled->last_transition_time, parse_time("2026-11-22T20:40:01Z"));
  ASSERT_EQ(d->warnings.size(), 1u) << all(d->warnings);
  EXPECT_EQ(d->warnings[0], "status.conditions[Ready].lastTransitionTime: is null; read as unknown");
}

TEST(Pod, WrongTypesAndGarbageNeverThrow) {
  json pod = json::parse(kPodWithNullTimes);
  pod["metadata"]["labels"]["tier"] = 7;
  pod["metadata"]["creationTimestamp"] = "last tuesday";
  pod["spec"]["nodeName"] = json::array();
  pod["status"]["conditions"][1]["status"] = "Sort of";
  pod["status"]["conditions"].push_back("not a condition");
  const Decoded<Pod> d = decode_pod(pod);
  EXPECT_FALSE(d.value.metadata.labels.count("tier"));
  EXPECT_EQ(d.value.metadata.labels.at("app"), "prefill");
  EXPECT_FALSE(d.value.metadata.creation_timestamp);
  EXPECT_EQ(d.value.node_name, "");
  EXPECT_EQ(d.value.ready->status, ConditionStatus::Unknown);
  const std::string w = all(d.warnings);
  for (const char* path : {"metadata.labels.tier", "metadata.creationTimestamp", "spec.nodeName",
                           "status.conditions[Ready].status", "status.conditions[3]"})
    EXPECT_NE(w.find(std::string(path) + ":"), std::string::npos) << path << " in\n" << w;
  for (const char* text : {"", "nul", "[]", "\"pod\"", "{\"metadata\": 5}", "{\"status\": {\"conditions\": {}}}"})
    (void)decode_pod_text(text);  // any answer, no exception
  EXPECT_FALSE(decode_pod_text("[]"));
  EXPECT_TRUE(decode_pod_text("{}"));
}

TEST(Workload, DeploymentFieldsAndDefaults) {
  auto d = decode_workload_text(R"({"metadata": {"name": "dsv31-prefill", "namespace": "default", "generation": 4},
    "spec": {"selector": {"matchLabels": {"app": "p"},
                          "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["cpu"]}]}},
    "status": {"replicas": 3, "readyReplicas": 2}})");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->value.spec_replicas, 1) << "the API's default when spec.replicas is unset";
  EXPECT_EQ(d->value.status_replicas, 3);
  EXPECT_EQ(d->value.ready_replicas, 2);
  ASSERT_TRUE(d->value.selector);
  EXPECT_TRUE(d->value.selector->matches({{"app", "p"}}));
  EXPECT_TRUE(d->value.selector->matches({{"app", "p"}, {"tier", "gpu"}}));
  EXPECT_FALSE(d->value.selector->matches({{"app", "p"}, {"tier", "cpu"}}));
  EXPECT_FALSE(d->value.selector->matches({{"app", "q"}}));
  auto bad = decode_workload_text(R"({"spec": {"replicas": "3", "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->value.spec_replicas, 1);
  EXPECT_TRUE(bad->value.selector->invalid);
  EXPECT_FALSE(bad->value.selector->matches({{"a", "b"}})) << "a selector that cannot be read matches nothing";
  EXPECT_EQ(bad->warnings.size(), 2u) << all(bad->warnings);
}

TEST(LabelSelector, StringFormAsScaleGivesIt) {
  auto s = parse_label_selector("app=p, tier in (gpu,fast), !canary, env!=dev,zone");
  ASSERT_TRUE(s) << s.error();
  ASSERT_EQ(s->requirements.size(), 5u);
  const std::map<std::string, std::string> ok{{"app", "p"}, {"tier", "fast"}, {"env", "prod"}, {"zone", "a"}};
  EXPECT_TRUE(s->matches(ok));
  auto with = [&](const std::string& k, const std::string& v) {
    auto l = ok;
    l[k] = v;
    return l;
  };
  EXPECT_FALSE(s->matches(with("canary", "1")));
  EXPECT_FALSE(s->matches(with("env", "dev")));
  EXPECT_FALSE(s->matches(with("tier", "slow")));
  auto l = ok;
  l.erase("zone");
  EXPECT_FALSE(s->matches(l));
  EXPECT_TRUE(parse_label_selector("")->matches({}));
  EXPECT_TRUE(parse_label_selector("app==p")->matches({{"app", "p"}}));
  EXPECT_TRUE(parse_label_selector("x notin (a)")->matches({}));
  for (const char* bad : {"=p", "app=p,", "a in b", "a in (b", "a > 3", "!", "a,,b"})
    EXPECT_FALSE(parse_label_selector(bad)) << bad;
}

TEST(Scale, AndLease) {
  auto s = decode_scale_text(R"({"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 4},
                                 "status": {"replicas": 3, "selector": "app=p"}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->value.resource_version, "9");
  EXPECT_EQ(s->value.spec_replicas, 4);
  EXPECT_EQ(s->value.selector, "app=p");
  auto empty = decode_scale_text(R"({"spec": {}, "status": null})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->value.spec_replicas, 0);
  EXPECT_EQ(empty->value.selector, "");

  Lease l{"ns", "pdscaler-operator", "me", 15, "2026-11-22T20:41:07.123456Z", "2026-11-22T20:41:09.000001Z", 2, "77"};
  auto back = decode_lease(encode_lease(l));
  EXPECT_TRUE(back.warnings.empty());
  EXPECT_EQ(back.value.holder, "me");
  EXPECT_EQ(back.value.renew_time, l.renew_time);
  EXPECT_EQ(back.value.transitions, 2);
  EXPECT_EQ(back.value.resource_version, "77");
  auto released = decode_lease_text(R"({"metadata": {"name": "x"}, "spec": {"holderIdentity": null}})");
  ASSERT_TRUE(released);
  EXPECT_EQ(released->value.holder, "");
  EXPECT_EQ(released->value.lease_duration_s, 15);
}

TEST(WatchLine, EventsBookmarksErrorsAndGarbage) {
  auto added = parse_watch_line(R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})");
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(added->type, WatchEventType::Added);
  EXPECT_EQ(added->resource_version, "12");
  EXPECT_EQ(added->object["metadata"]["name"], "a");
  auto bookmark = parse_watch_line(R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"99"}}})");
  ASSERT_TRUE(bookmark);
  EXPECT_EQ(bookmark->type, WatchEventType::Bookmark);
  EXPECT_EQ(bookmark->resource_version, "99");
  auto gone = parse_watch_line(
      R"j({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 5 (80)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->type, WatchEventType::Error);
  EXPECT_EQ(gone->error.code, 410);
  EXPECT_EQ(gone->error.reason, "Expired");
  for (const char* bad : {"", "{", R"({"type":"ADDED"})", R"({"type":"ADDED","object":[]})", R"({"type":"RENAMED","object":{}})",
                          R"({"type":7,"object":{}})", "[]", R"j({"type":"ADDED","object":{"metadata":{"name":"a")j"})
    EXPECT_FALSE(parse_watch_line(bad)) << bad;
  auto odd_rv = parse_watch_line(R"({"type":"MODIFIED","object":{"metadata":{"resourceVersion":12}}})");
  ASSERT_TRUE(odd_rv);
  EXPECT_EQ(odd_rv->resource_version, "") << "not a string: no resourceVersion";
}

TEST(ListMeta, ResourceVersionAndContinue) {
  const ListMeta m = decode_list_meta(json::parse(R"({"metadata": {"resourceVersion": "5", "continue": "abc"}, "items": []})"));
  EXPECT_EQ(m.resource_version, "5");
  EXPECT_EQ(m.continue_token, "abc");
  EXPECT_EQ(decode_list_meta(json::array()).resource_version, "");
}

}  // namespace
}  // namespace pdscaler::api
