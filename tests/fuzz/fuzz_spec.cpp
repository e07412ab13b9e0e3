// PDDeployment manifests as `pdscaler plan` reads them (YAML or JSON, through the CLI's own file
// loader) and as the API server returns them (JSON objects), then sized and rendered: a manifest
// the codec accepts must plan and render without a crash or a sanitizer report.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/api/status_codec.h"
#include "pdscaler/planner/plan.h"
#include "plan_command.h"
#include "plan_render.h"

using namespace pdscaler;

namespace {

const std::string& scratch_file() {
  static const std::string path = "/tmp/pdscaler-fuzz-spec." + std::to_string(getpid()) + ".yaml";
  return path;
}

void check_plan(const api::Manifest& m) {
  const planner::Plan p = planner::plan(m.plan);
  if (p.feasible && (p.prefill.replicas < 1 || p.decode.replicas < 1)) __builtin_trap();
  (void)cli::render_table(m, p);
  const auto j = cli::plan_to_json(m, p);
  (void)cli::render_json(j);
  (void)cli::render_yaml(j);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // The CLI's loader, from a file as a user gives it.
  {
    std::ofstream(scratch_file(), std::ios::binary | std::ios::trunc) << text;
    std::ostringstream err;
    auto m = cli::load_manifest(scratch_file(), err);
    if (m) check_plan(*m);
    else if (err.str().empty()) __builtin_trap();  // a refusal always says why
  }

  // Errors carry paths that format without a crash.
  auto decoded = api::decode_manifest(text);
  if (!decoded) {
    (void)api::describe(decoded.error());
    for (const auto& e : decoded.error()) (void)api::format_error(e, "fuzz.yaml");
  }

  // The same text as the API server's JSON object, with the status read back and written again.
  auto pdd = api::decode_pddeployment_text(text);
  if (pdd) {
    std::vector<std::string> warnings;
    const auto status = api::encode_status(pdd->status);
    if (api::decode_status(status, warnings) != pdd->status) __builtin_trap();
    (void)api::merge_patch(status, api::encode_status({}));
  }
  return 0;
}
