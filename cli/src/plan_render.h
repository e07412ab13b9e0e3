#pragma once
// Renders a plan for people (an aligned table with the model's explanation) and for programs
// (JSON or YAML with the same content).

#include <string>

#include <nlohmann/json.hpp>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/planner/plan.h"

namespace pdscaler::cli {

nlohmann::json plan_to_json(const api::Manifest& d, const planner::Plan& p);
std::string render_table(const api::Manifest& d, const planner::Plan& p);
std::string render_json(const nlohmann::json& j);
std::string render_yaml(const nlohmann::json& j);

}  // namespace pdscaler::cli
