// kubeconfig files as users and tools write them (YAML, contexts, inline *-data in base64, token
// files, insecure flags): loaded or refused with a message, never a crash.
#include <fstream>
#include <string>
#include <unistd.h>

#include "pdscaler/kube/config.h"

using namespace pdscaler;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/pdscaler-fuzz-kubeconfig." + std::to_string(getpid());
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  auto c = kube::load_kubeconfig(path);
  if (c) {
    auto cc = c->client_config();
    if (cc.token) (void)cc.token();
  } else if (c.error().empty()) {
    __builtin_trap();
  }
  (void)kube::base64_decode(text);
  return 0;
}
