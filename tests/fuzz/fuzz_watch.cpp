// The Kubernetes REST client on answers taken from the fuzz input: watch streams (JSON lines cut
// anywhere, bookmarks, ERROR events with or without a Status, proxies' pages), lists, /scale,
// Leases and discovery. Each call returns a value or an ApiError with a code; the objects a watch
// hands over decode tolerantly as the informers' users decode them.
#include <map>
#include <string>

#include "fake_http.h"
#include "pdscaler/api/objects.h"
#include "pdscaler/api/status_codec.h"
#include "pdscaler/kube/client.h"

using namespace pdscaler;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto parts = fuzz::split_parts(in);
  auto client = kube::make_rest_client(std::make_unique<fuzz::FakeHttp>(parts),
                                       std::make_unique<fuzz::FakeHttp>(parts), "fuzz", nullptr);

  // An informer's cache: key -> object, kept from the stream's events.
  std::map<std::string, nlohmann::json> cache;
  std::string rv = "1";
  auto handler = [&](api::WatchEvent& ev) {
    if (!ev.resource_version.empty()) rv = ev.resource_version;
    if (ev.type == api::WatchEventType::Bookmark) return true;
    std::vector<std::string> warnings;
    api::TolerantReader r(warnings);
    const auto meta = api::decode_object_meta(ev.object, r);
    const std::string key = meta.namespace_ + "/" + meta.name;
    if (ev.type == api::WatchEventType::Deleted) cache.erase(key);
    else cache[key] = ev.object;
    (void)api::decode_pod(ev.object);
    (void)api::decode_workload(ev.object);
    (void)api::decode_pddeployment(ev.object);
    return cache.size() < 1000;
  };
  for (int round = 0; round < 2; ++round) {
    auto w = client->watch("/api/v1/pods", rv, 30, handler);
    if (!w && w.error().code == kube::ErrorCode::Gone) {
      auto l = client->list("/api/v1/pods");
      if (l) rv = l->resource_version;
    }
  }
  const kube::TargetRef t{"default", "apps/v1", "Deployment", "prefill"};
  (void)client->get_scale(t);
  (void)client->set_scale(t, 3);
  (void)client->get_object(t);
  (void)client->get_lease("pdscaler-system", "pdscaler-operator");
  (void)client->patch_pddeployment_status("default", "x", nlohmann::json::object());
  return 0;
}
