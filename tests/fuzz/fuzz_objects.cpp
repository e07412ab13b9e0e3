// Every Kubernetes object the operator reads, as the API server could send it (nulls, missing
// optional fields, values of the wrong type): each decoder turns any JSON text into a typed value
// with warnings or an error, never an exception or a sanitizer report. The same text goes to all.
#include <string>

#include "pdscaler/api/objects.h"
#include "pdscaler/api/status_codec.h"

using namespace pdscaler;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto pod = api::decode_pod_text(text)) {
    // A decoded pod compares equal to itself decoded again from the same tree.
    if (!(api::decode_pod_text(text)->value == pod->value)) __builtin_trap();
  }
  if (auto w = api::decode_workload_text(text); w && w->value.selector) {
    (void)w->value.selector->matches({{"app", "x"}, {"tier", "a"}});
  }
  (void)api::decode_scale_text(text);
  if (auto l = api::decode_lease_text(text)) {
    // What the operator writes back of a Lease reads back the same.
    auto again = api::decode_lease(api::encode_lease(l->value));
    if (again.value.holder != l->value.holder || again.value.transitions != l->value.transitions) __builtin_trap();
  }
  if (auto pdd = api::decode_pddeployment_text(text)) {
    // Decoding again with the first as `previous` reuses its spec: the same answer.
    const auto j = nlohmann::json::parse(text, nullptr, false);
    auto again = api::decode_pddeployment(j, &*pdd);
    if (again.spec.has_value() != pdd->spec.has_value()) __builtin_trap();
  }
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    (void)api::decode_list_meta(j);
    (void)api::decode_api_status(j);
    std::vector<std::string> warnings;
    api::TolerantReader r(warnings);
    (void)api::decode_label_selector(j, "spec.selector", r);
  }
  return 0;
}
