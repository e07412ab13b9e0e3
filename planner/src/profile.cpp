#include "pdscaler/planner/profile.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace pdscaler::planner {
namespace {

// Relative slack for comparing measured values with limits, so that a table point equal to the
// target (the paper's TPOT(34) = 20 ms) counts as meeting it despite decimal-to-binary rounding.
constexpr double kRelEps = 1e-12;

struct Indexed {
  ProfilePoint p;
  int index;  // caller's order
};

double interpolate(const ProfilePoint& a, const ProfilePoint& b, double x) {
  if (b.x == a.x) return a.y;
  return a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x);
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

}  // namespace

tl::expected<Profile, ProfileError> Profile::build(const std::vector<ProfilePoint>& raw,
                                                   ProfileShape shape, double outlier_tolerance) {
  if (raw.empty()) return tl::unexpected(ProfileError{-1, "", "needs at least one point"});

  std::vector<Indexed> pts;
  pts.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const auto& p = raw[i];
    const int idx = static_cast<int>(i);
    if (!std::isfinite(p.x) || p.x <= 0)
      return tl::unexpected(ProfileError{idx, "x", "must be a positive number, got " + fmt(p.x)});
    if (!std::isfinite(p.y) || p.y <= 0)
      return tl::unexpected(ProfileError{idx, "y", "must be a positive number, got " + fmt(p.y)});
    pts.push_back({p, idx});
  }

  Profile out;
  std::stable_sort(pts.begin(), pts.end(),
                   [](const Indexed& a, const Indexed& b) { return a.p.x < b.p.x; });

  // Repeated measurements at one x are averaged rather than refused: benchmark sweeps often repeat.
  std::vector<Indexed> merged;
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    double sum = 0;
    while (j < pts.size() && pts[j].p.x == pts[i].p.x) sum += pts[j++].p.y;
    Indexed m = pts[i];
    if (j - i > 1) {
      m.p.y = sum / static_cast<double>(j - i);
      out.notes_.push_back({pts[i].index, std::to_string(j - i) + " points at x=" +
                                              fmt(pts[i].p.x) + " averaged to " + fmt(m.p.y)});
    }
    merged.push_back(m);
    i = j;
  }

  // An isolated outlier (its neighbours agree, it does not) is a measurement glitch, such as the
  // H100 TP8 prefill point at input 6205 that is half of both neighbours.
  std::vector<Indexed> kept;
  for (size_t i = 0; i < merged.size(); ++i) {
    if (i > 0 && i + 1 < merged.size() && outlier_tolerance > 0) {
      const auto& a = merged[i - 1].p;
      const auto& c = merged[i + 1].p;
      const double line = interpolate(a, c, merged[i].p.x);
      const bool neighbours_agree =
          std::abs(a.y - c.y) <= outlier_tolerance * std::max(a.y, c.y);
      if (neighbours_agree && std::abs(merged[i].p.y - line) > outlier_tolerance * line) {
        out.notes_.push_back(
            {merged[i].index, "point at x=" + fmt(merged[i].p.x) + " (" + fmt(merged[i].p.y) +
                                  ") dropped as an outlier: its neighbours give " + fmt(line)});
        continue;
      }
    }
    kept.push_back(merged[i]);
  }

  if (shape == ProfileShape::NonDecreasing) {
    double running = 0;
    for (auto& k : kept) {
      if (k.p.y < running) {
        out.notes_.push_back({k.index, "point at x=" + fmt(k.p.x) + " (" + fmt(k.p.y) +
                                           ") lifted to " + fmt(running) +
                                           " so the table does not fall as x grows"});
        k.p.y = running;
      }
      running = k.p.y;
    }
  }

  out.points_.reserve(kept.size());
  for (const auto& k : kept) out.points_.push_back(k.p);
  return out;
}

Profile Profile::scaled(double factor) const {
  Profile out = *this;
  for (auto& pt : out.points_) pt.y *= factor;
  return out;
}

Lookup Profile::at(double x) const {
  if (points_.size() == 1) return {points_.front().y, false};
  if (x < points_.front().x) return {points_.front().y, true};
  if (x > points_.back().x) return {points_.back().y, true};
  auto hi = std::lower_bound(points_.begin(), points_.end(), x,
                             [](const ProfilePoint& p, double v) { return p.x < v; });
  if (hi->x == x || hi == points_.begin()) return {hi->y, false};
  return {interpolate(*(hi - 1), *hi, x), false};
}

double Profile::largest_x_within(double limit, bool integral) const {
  const double tol = limit * (1 + kRelEps);
  if (points_.front().y > tol) return -1;
  if (points_.back().y <= tol) return points_.back().x;
  for (size_t k = 0; k + 1 < points_.size(); ++k) {
    const auto& a = points_[k];
    const auto& b = points_[k + 1];
    if (b.y <= tol) continue;
    double x = a.x + (limit - a.y) * (b.x - a.x) / (b.y - a.y);
    x = std::clamp(x, a.x, b.x);
    if (integral) x = std::max(std::floor(x + 1e-9), std::floor(a.x));
    return x;
  }
  return points_.back().x;
}

}  // namespace pdscaler::planner
