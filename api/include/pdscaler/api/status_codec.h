#pragma once
// A PDDeployment's status to JSON and back, and a whole PDDeployment object as the API server
// returns it. Encoding and decoding both walk the structs' field lists (fields.h); decoding is
// tolerant (what does not read back is dropped with a warning), so decode(encode(s)) == s and a
// status that did not change is recognised as such and not written.
//
//   PDDeploymentStatus s = decode_status(obj["status"], warnings);
//   if (next != s) patch(merge_patch(encode_status(s), encode_status(next)));

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"

namespace pdscaler::api {

nlohmann::json encode_status(const PDDeploymentStatus& s);
PDDeploymentStatus decode_status(const nlohmann::json& status, std::vector<std::string>& warnings);

// An RFC 7386 merge patch that turns `from` into `to` (keys gone from `to` become null).
nlohmann::json merge_patch(const nlohmann::json& from, const nlohmann::json& to);

// A PDDeployment object: metadata, the spec (decoded only when uid or generation differ from
// `previous`, whose decoded spec is reused otherwise) and the status. Never throws.
PDDeployment decode_pddeployment(const nlohmann::json& object, const PDDeployment* previous = nullptr);

// JSON text to a PDDeployment, or why the text is not a JSON object.
tl::expected<PDDeployment, std::string> decode_pddeployment_text(std::string_view text);

}  // namespace pdscaler::api
