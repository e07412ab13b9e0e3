// The informer's cache against the in-memory API server: packed storage reads back what a tree
// holds, our own newer write is not replaced by an older event, and a namespace's objects are
// found without the neighbours whose names share its prefix.
#include <gtest/gtest.h>

#include <thread>

#include "ctl/fake_kube.h"
#include "ctl/eventually.h"
#include "pdscaler/ctl/informer.h"

namespace pdscaler::ctl {
namespace {

using nlohmann::json;
using testing::FakeKube;

json object(const std::string& ns, const std::string& name, int replicas) {
  return {{"metadata", {{"namespace", ns}, {"name", name}, {"labels", {{"app", name}}}}},
          {"spec", {{"replicas", replicas}, {"note", "\xff not UTF-8 \xfe"}}}};
}

using testing::eventually;

class Running {
 public:
  Running(FakeKube& k, Informer::Storage storage)
      : kube(k), inf(k, FakeKube::kDeployments, [](const std::string&, const json*) {}, {}, {},
                     TimeSource::real(), storage),
        t([this] { inf.run(); }) {}
  ~Running() {
    inf.stop();
    kube.cancel_watches();
    t.join();
  }
  FakeKube& kube;
  Informer inf;
  std::thread t;
};

TEST(Informer, PackedStorageReadsBackWhatTheTreeHolds) {
  FakeKube kube;
  for (const char* ns : {"a", "a-b", "ab", "a0"}) kube.put(FakeKube::kDeployments, object(ns, "x", 1));
  Running tree(kube, Informer::Storage::Tree), packed(kube, Informer::Storage::Packed);
  ASSERT_TRUE(eventually([&] { return tree.inf.synced() && packed.inf.synced(); }));
  kube.put(FakeKube::kDeployments, object("a", "y", 3));  // by the watch
  ASSERT_TRUE(eventually([&] { return packed.inf.get("a/y") && tree.inf.get("a/y"); }));
  for (const auto& key : tree.inf.keys()) EXPECT_EQ(*packed.inf.get(key), *tree.inf.get(key)) << key;
  EXPECT_EQ(packed.inf.keys(), tree.inf.keys());
  EXPECT_EQ((*packed.inf.get("a/y"))["spec"]["note"], "\xff not UTF-8 \xfe");

  // One namespace, and not "a-b", "ab" or "a0", whose keys sort next to it.
  for (auto* r : {&tree, &packed}) {
    const auto in_a = r->inf.select_in("a", [](const std::string&, const json&) { return true; });
    ASSERT_EQ(in_a.size(), 2u);
    for (const auto& o : in_a) EXPECT_EQ(o["metadata"]["namespace"], "a");
  }

  // Our write (a newer resourceVersion than the cache's) stays until an event at least as new comes.
  json mine = *packed.inf.get("a/x");
  mine["spec"]["replicas"] = 7;
  mine["metadata"]["resourceVersion"] = "100000";
  packed.inf.update_local("a/x", mine);
  json stale = mine;
  stale["spec"]["replicas"] = 2;
  stale["metadata"]["resourceVersion"] = "5";
  packed.inf.update_local("a/x", stale);
  EXPECT_EQ((*packed.inf.get("a/x"))["spec"]["replicas"], 7);
}

}  // namespace
}  // namespace pdscaler::ctl
