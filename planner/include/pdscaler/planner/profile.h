#pragma once
// Measured performance tables (prefill throughput against input length, decode TPOT against batch
// size) as validated piecewise-linear functions. Built once from raw points; lookups never
// extrapolate silently: outside the measured range the nearest end value is used and the lookup
// says so, so callers can surface a warning.
//
//   auto p = Profile::build({{2048, 22000}, {4096, 25700}, {8192, 25600}}, ProfileShape::Free);
//   if (!p) report(p.error());
//   Lookup l = p->at(6144);  // l.value ~ 25650, l.clamped == false

#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace pdscaler::planner {

struct ProfilePoint {
  double x = 0;
  double y = 0;
};

// How the table may be cleaned up when built.
enum class ProfileShape {
  // No shape assumed (throughput against input length rises, then falls).
  Free,
  // The quantity cannot fall as x grows (TPOT against batch size); noisy dips are lifted to the
  // running maximum, which is conservative: it never makes a batch look faster than a smaller one.
  NonDecreasing,
};

// Why a table was refused; `index` is the offending point in the caller's order (-1: whole table).
struct ProfileError {
  int index = -1;
  std::string field;  // "x" or "y" or "" for the point as a whole
  std::string message;
};

// Something the builder changed and the user should hear about.
struct ProfileNote {
  int index = -1;  // in the caller's order
  std::string message;
};

struct Lookup {
  double value = 0;
  bool clamped = false;  // x lay outside the measured range; value is the nearest end's
};

class Profile {
 public:
  // Refuses non-finite or non-positive values and empty tables; sorts unsorted points; averages
  // repeated x values; drops isolated outliers (an interior point that differs from the line
  // through its two neighbours by more than `outlier_tolerance` of that line, while the neighbours
  // agree with each other); and for NonDecreasing applies the running maximum.
  static tl::expected<Profile, ProfileError> build(const std::vector<ProfilePoint>& raw,
                                                   ProfileShape shape,
                                                   double outlier_tolerance = 0.35);

  Lookup at(double x) const;
  // The largest x in [min_x(), max_x()] with at(x) <= limit, stepping x in whole units when
  // `integral` (batch sizes); negative when even the first point exceeds the limit. Requires a
  // NonDecreasing profile.
  double largest_x_within(double limit, bool integral) const;

  // The same table with every y multiplied by `factor` (> 0): a calibrated profile.
  Profile scaled(double factor) const;

  double min_x() const { return points_.front().x; }
  double max_x() const { return points_.back().x; }
  const std::vector<ProfilePoint>& points() const { return points_; }
  const std::vector<ProfileNote>& notes() const { return notes_; }
  bool is_constant() const { return points_.size() == 1; }

 private:
  std::vector<ProfilePoint> points_;
  std::vector<ProfileNote> notes_;
};

}  // namespace pdscaler::planner
