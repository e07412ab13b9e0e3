#include "pdscaler/api/pddeployment.h"

namespace pdscaler::api {

const char* to_string(planner::Rounding r) { return r == planner::Rounding::Nearest ? "Nearest" : "Ceil"; }

const char* to_string(planner::QueueModel q) {
  switch (q) {
    case planner::QueueModel::MM1: return "MM1";
    case planner::QueueModel::MD1: return "MD1";
    case planner::QueueModel::MG1: return "MG1";
  }
  return "MM1";
}

std::string key_of(const ObjectMeta& m) { return m.namespace_ + "/" + m.name; }

const Condition* find_condition(const PDDeploymentStatus& s, std::string_view type) {
  for (const auto& c : s.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

}  // namespace pdscaler::api
