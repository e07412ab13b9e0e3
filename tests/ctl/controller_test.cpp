// The controller against an in-memory API server (tests/ctl/fake_kube.h), in seconds: a
// PDDeployment's Deployments are scaled to the plan and its status written; with the caches
// synced, a reconcile reads nothing from the API (targets and pods come from the watch caches,
// /scale is only written); a Deployment event wakes only the PDDeployment that scales it; a
// replica count we wrote is not taken for someone else's edit before the watch brings it.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "ctl/fake_kube.h"
#include "ctl/eventually.h"
#include "pdscaler/ctl/controller.h"

namespace pdscaler::ctl {
namespace {

using nlohmann::json;
using testing::FakeKube;

json pdd(const std::string& name, const std::string& prefill, const std::string& decode, double tpm) {
  return json::parse(R"({"apiVersion": "pdscaler.io/v1alpha1", "kind": "PDDeployment",
    "metadata": {"namespace": "llm", "name": ")" + name + R"("},
    "spec": {"mode": "Auto", "slo": {"ttft": "2s", "tpot": "20ms"},
      "workload": {"tokensPerMinute": )" + std::to_string(tpm) + R"(, "inputLength": 6144, "outputLength": 512},
      "prefill": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ")" + prefill + R"("},
        "gpusPerReplica": 8, "throughputByInputLength": [{"inputLength": 6144, "maxThroughput": 28300}],
        "overhead": "100ms", "minReplicas": 1, "maxReplicas": 16},
      "decode": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ")" + decode + R"("},
        "gpusPerReplica": 8, "tpotByBatchSize": [{"batchSize": 1, "tpot": "9ms"}, {"batchSize": 16, "tpot": "14ms"},
          {"batchSize": 34, "tpot": "20ms"}, {"batchSize": 64, "tpot": "31ms"}],
        "minReplicas": 1, "maxReplicas": 32}}})");
}

json deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"namespace", "llm"}, {"name", name}, {"labels", {{"app", name}}}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", {{"containers", json::array()}}}}}}},
          {"status", {{"replicas", replicas}, {"readyReplicas", replicas}}}};
}

json pod(const std::string& name, const std::string& app) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"namespace", "llm"}, {"name", name}, {"labels", {{"app", app}}}, {"creationTimestamp", "2026-12-01T10:00:00Z"}}},
          {"spec", {{"nodeName", "gpu-1"}, {"containers", json::array({{{"name", "engine"}, {"image", "vllm"}}})}}},
          {"status",
           {{"phase", "Running"},
            {"conditions",
             json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2026-12-01T10:01:00Z"}},
                          {{"type", "PodScheduled"}, {"status", "True"}, {"lastTransitionTime", "2026-12-01T10:00:01Z"}},
                          {{"type", "Initialized"}, {"status", "True"}}})}}}};
}

using testing::eventually;

int replicas_of(FakeKube& k, const std::string& name) {
  auto d = k.object(FakeKube::kDeployments, "llm/" + name);
  return d ? (*d)["spec"].value("replicas", -1) : -1;
}

struct Fixture {
  FakeKube kube;
  SelfMetrics metrics{""};
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::unique_ptr<Controller> controller;
  void start() {
    controller = std::make_unique<Controller>(kube, metrics, ControllerOptions{"", std::chrono::seconds(3600), 2, 1}, log);
    controller->set_leader(true);
    controller->start();
  }
};

TEST(Controller, ScalesToThePlanAndThenReadsOnlyItsCaches) {
  Fixture f;
  f.kube.put(FakeKube::kDeployments, deployment("p", 1));
  f.kube.put(FakeKube::kDeployments, deployment("d", 1));
  f.kube.put(FakeKube::kPods, pod("p-1", "p"));
  f.kube.put(FakeKube::kPods, pod("d-1", "d"));
  f.kube.put(FakeKube::kPdds, pdd("a", "p", "d", 5e6));  // the paper's example: 4P4D
  f.start();
  ASSERT_TRUE(eventually([&] { return replicas_of(f.kube, "p") == 4 && replicas_of(f.kube, "d") == 4; }))
      << replicas_of(f.kube, "p") << "P" << replicas_of(f.kube, "d") << "D";
  ASSERT_TRUE(eventually([&] {
    auto o = f.kube.object(FakeKube::kPdds, "llm/a");
    return o && o->contains("status") && (*o)["status"].contains("conditions");
  }));
  EXPECT_EQ(f.kube.calls("get_scale"), 0) << "Deployments are read from the watch cache";
  EXPECT_EQ(f.kube.calls("get_object"), 0);
  EXPECT_EQ(f.kube.calls("list"), 3) << "one list per informer (PDDeployments, Deployments, pods), nothing per reconcile";

  // An edit: re-planned and written, still without a read.
  json edited = pdd("a", "p", "d", 2.5e6);
  edited["status"] = f.kube.object(FakeKube::kPdds, "llm/a")->value("status", json::object());
  f.kube.put(FakeKube::kPdds, edited);
  ASSERT_TRUE(eventually([&] { return replicas_of(f.kube, "p") < 4; })) << replicas_of(f.kube, "p");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the status write settle
  EXPECT_EQ(f.kube.calls("get_scale") + f.kube.calls("get_object"), 0);
  EXPECT_EQ(f.kube.calls("list"), 3);
  f.controller->stop();
}

TEST(Controller, OurOwnWriteIsNotTakenForAnOverrideBeforeTheWatchBringsIt) {
  Fixture f;
  f.kube.put(FakeKube::kDeployments, deployment("p", 1));
  f.kube.put(FakeKube::kDeployments, deployment("d", 1));
  f.kube.put(FakeKube::kPdds, pdd("a", "p", "d", 5e6));
  // The Deployments' watch lags 400 ms: reconciles woken by our own status writes come first.
  f.kube.delay_watch(FakeKube::kDeployments, std::chrono::milliseconds(400));
  f.start();
  ASSERT_TRUE(eventually([&] { return replicas_of(f.kube, "p") == 4 && replicas_of(f.kube, "d") == 4; }));
  // Settled: no further writes, and no override condition.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int writes = f.kube.calls("set_scale");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(f.kube.calls("set_scale"), writes) << "no write loop";
  EXPECT_EQ(writes, 2);
  const json status = f.kube.object(FakeKube::kPdds, "llm/a")->value("status", json::object());
  bool seen = false;
  for (const auto& c : status.value("conditions", json::array()))
    if (c.value("type", "") == "ExternalOverride") {
      seen = true;
      EXPECT_EQ(c.value("status", ""), "False") << c.dump();
    }
  EXPECT_TRUE(seen) << status.dump();
  f.controller->stop();
}

TEST(Controller, ADeploymentEventWakesOnlyItsOwner) {
  Fixture f;
  for (const char* n : {"p1", "d1", "p2", "d2"}) f.kube.put(FakeKube::kDeployments, deployment(n, 1));
  f.kube.put(FakeKube::kPdds, pdd("one", "p1", "d1", 5e6));
  f.kube.put(FakeKube::kPdds, pdd("two", "p2", "d2", 5e6));
  f.start();
  ASSERT_TRUE(eventually([&] { return replicas_of(f.kube, "p1") == 4 && replicas_of(f.kube, "p2") == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Someone scales p2 by hand: only "two" is reconciled (its status records the change), "one"
  // is left alone.
  const auto before_one = f.kube.object(FakeKube::kPdds, "llm/one")->dump();
  json p2 = *f.kube.object(FakeKube::kDeployments, "llm/p2");
  p2["spec"]["replicas"] = 7;
  f.kube.put(FakeKube::kDeployments, p2);
  const int patches = f.kube.calls("patch_status");
  ASSERT_TRUE(eventually([&] { return f.kube.calls("patch_status") > patches; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(f.kube.object(FakeKube::kPdds, "llm/one")->dump(), before_one);
  f.controller->stop();
}

}  // namespace
}  // namespace pdscaler::ctl
