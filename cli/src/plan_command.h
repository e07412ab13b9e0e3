#pragma once
// `pdscaler plan`: size a PDDeployment manifest without a cluster, with what-if overrides.

#include <iosfwd>
#include <optional>
#include <string>

#include "pdscaler/api/spec_codec.h"

namespace pdscaler::cli {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInfeasible = 3;

struct PlanOverrides {
  std::optional<double> tokens_per_minute;
  std::optional<double> tokens_per_second;
  std::optional<double> requests_per_second;
  std::optional<double> input_length;
  std::optional<double> output_length;
  std::optional<std::string> ttft;
  std::optional<std::string> tpot;
  std::optional<double> ttft_percentile;
  std::optional<int> max_total_gpus;
  std::optional<std::string> rounding;     // ceil | nearest
  std::optional<std::string> queue_model;  // mm1 | md1 | mg1
  std::optional<double> prefix_cache_hit_rate;
  std::optional<double> attainment;           // percent of requests within both SLOs
  std::optional<double> arrival_dispersion;   // 1 = Poisson
  std::optional<double> output_length_stddev;
  std::optional<std::string> routing;         // least-loaded | random (both roles)
};

struct PlanOptions {
  std::string file;             // "-" for standard input
  std::string output = "table";  // table | json | yaml
  PlanOverrides overrides;
};

// Applies what-if overrides to a decoded spec; returns an error message naming the flag if one
// does not make sense for it.
std::optional<std::string> apply_overrides(const PlanOverrides& o, api::Manifest& d);

int run_plan(const PlanOptions& opts, std::ostream& out, std::ostream& err);

// Reads a whole file ("-" = standard input); nullopt with `error` set when it cannot.
std::optional<std::string> read_input(const std::string& path, std::string& error);

// Reads and decodes a manifest; on failure prints every problem to `err` and returns nullopt.
std::optional<api::Manifest> load_manifest(const std::string& path, std::ostream& err);

}  // namespace pdscaler::cli
