#pragma once
// Decodes a PDDeployment's spec from its parsed tree, strictly: every problem is reported with its
// field path (and, for a manifest read from text, its line and column). One decoder serves the API
// server's JSON objects (the operator, once per generation) and `pdscaler plan`'s YAML or JSON
// manifests, which parse_manifest turns into the same tree.
//
//   auto m = decode_manifest(text);
//   if (!m) for (const auto& e : m.error()) std::cerr << format_error(e, "x.yaml") << "\n";

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"

namespace pdscaler::api {

struct FieldError {
  std::string path;  // "spec.decode.tpotByBatchSize[2].tpot"; empty for the document as a whole
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;
};

// "FILE:LINE:COL: PATH: MESSAGE", leaving out what is unknown.
std::string format_error(const FieldError& e, std::string_view source);
// "PATH: MESSAGE; PATH: MESSAGE" (for a condition message).
std::string describe(const std::vector<FieldError>& errors);

// Where each value (and each map key) of a parsed text was: path -> (line, column), 1-based.
struct SourcePositions {
  std::map<std::string, std::pair<int, int>> values;
  std::map<std::string, std::pair<int, int>> keys;
};

struct ParsedManifest {
  nlohmann::json tree;
  SourcePositions positions;
};

// YAML or JSON text as a JSON tree, plain scalars typed as YAML 1.2's core schema does (12 is a
// number, "12" and 2s are strings, true a boolean, ~ null); a repeated key is an error.
tl::expected<ParsedManifest, std::vector<FieldError>> parse_manifest(std::string_view text);

// The spec of a whole PDDeployment object (apiVersion, kind, metadata, spec; status is not read).
tl::expected<PDDeploymentSpec, std::vector<FieldError>> decode_spec(const nlohmann::json& object,
                                                                    const SourcePositions* positions = nullptr);

// A manifest as `pdscaler plan` reads it: its name and namespace and its spec.
struct Manifest : PDDeploymentSpec {
  std::string name;
  std::string namespace_;
};
tl::expected<Manifest, std::vector<FieldError>> decode_manifest(std::string_view text);

}  // namespace pdscaler::api
