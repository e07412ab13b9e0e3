#pragma once
// The reports of `pdscaler simulate`: a table, JSON with every figure (each seed's and the mean
// with its 95% interval), and a self-contained HTML page. Every report states the settings a
// figure depends on: the load and its scales, cold start, interval, initial fleet, limits, seeds.

#include <string>
#include <vector>

#include "pdscaler/api/spec_codec.h"
#include "simulate_command.h"

namespace pdscaler::cli {

struct SimSettings {
  std::string load;       // what was replayed, with its scales
  double cold_start_s = 0;
  double interval_s = 0;
  std::string initial;    // the initial fleets
  std::string limits;     // replica limits per role
  std::vector<uint64_t> seeds;
  double target = 0.99;   // share of feasible requests
  std::string routing;
  std::string engine;     // engine mechanisms switched on, or "profiles only"
  std::string sizing;     // what the planning policies size for
};

std::string render_table(const SimSettings& s, const api::Manifest& d, const std::vector<PolicyRuns>& runs);
std::string render_json(const SimSettings& s, const api::Manifest& d, const std::vector<PolicyRuns>& runs);
std::string render_html(const SimSettings& s, const api::Manifest& d, const std::vector<PolicyRuns>& runs);

}  // namespace pdscaler::cli
