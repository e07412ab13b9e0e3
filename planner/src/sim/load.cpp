#include "pdscaler/sim/load.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

namespace pdscaler::sim {
namespace {

class TraceReader final : public LoadReader {
 public:
  explicit TraceReader(std::shared_ptr<const Trace> t) : t_(std::move(t)) {}
  bool next(Request& r) override {
    if (i_ >= t_->requests.size()) return false;
    r = t_->requests[i_++];
    return true;
  }

 private:
  std::shared_ptr<const Trace> t_;
  size_t i_ = 0;
};

class TraceLoad final : public Load {
 public:
  explicit TraceLoad(Trace t) : t_(std::make_shared<const Trace>(std::move(t))) {}
  std::unique_ptr<LoadReader> read() const override { return std::make_unique<TraceReader>(t_); }
  double duration_s() const override { return t_->duration_s; }
  double expected_requests() const override { return static_cast<double>(t_->requests.size()); }

 private:
  std::shared_ptr<const Trace> t_;
};

// The schedule as segments with their ends, so a reader walks it without searching.
struct Segment {
  double start = 0, end = 0;
  double r0 = 0, r1 = 0;  // rate at start and end (equal unless ramping)
  double dispersion = 1;
  double mean_input = 0, mean_output = 0;
  // Arrival mass (expected requests) from `start` to start + u.
  double mass(double u) const { return r0 * u + 0.5 * slope() * u * u; }
  double slope() const { return end > start ? (r1 - r0) / (end - start) : 0; }
  // The offset u at which mass(u) == m (m within the segment's mass).
  double inverse(double m) const {
    const double c = slope();
    if (std::abs(c) < 1e-15) return r0 > 0 ? m / r0 : end - start;
    const double disc = std::max(0.0, r0 * r0 + 2 * c * m);
    const double denom = r0 + std::sqrt(disc);
    return denom > 0 ? 2 * m / denom : end - start;
  }
};

std::vector<Segment> segments(const std::vector<RateSegment>& schedule, double duration_s) {
  std::vector<Segment> out;
  for (size_t i = 0; i < schedule.size(); ++i) {
    const auto& s = schedule[i];
    const double end = i + 1 < schedule.size() ? std::min(schedule[i + 1].start_s, duration_s) : duration_s;
    if (s.start_s >= duration_s) break;
    if (end <= s.start_s) continue;
    Segment g;
    g.start = s.start_s;
    g.end = end;
    g.r0 = std::max(0.0, s.requests_per_s);
    g.r1 = s.ramp && i + 1 < schedule.size() ? std::max(0.0, schedule[i + 1].requests_per_s) : g.r0;
    if (s.ramp && i + 1 < schedule.size() && schedule[i + 1].start_s > duration_s) {
      // Cut inside the ramp: the rate where the load ends.
      const double frac = (duration_s - s.start_s) / (schedule[i + 1].start_s - s.start_s);
      g.r1 = g.r0 + (std::max(0.0, schedule[i + 1].requests_per_s) - g.r0) * frac;
    }
    g.dispersion = s.dispersion > 0 ? s.dispersion : 1;
    g.mean_input = s.mean_input;
    g.mean_output = s.mean_output;
    out.push_back(g);
  }
  return out;
}

// Standard normal quantiles by bisection on the CDF.
double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// A standard normal variate by its inverse CDF from a table (linear between 8192 cells), exact
// in the two outermost cells: faster than the library's polar method, which long loads feel.
double standard_normal(std::mt19937_64& rng) {
  constexpr int kCells = 8192;
  static const std::vector<double> kTable = [] {
    std::vector<double> t(kCells + 1);
    for (int i = 1; i < kCells; ++i) t[static_cast<size_t>(i)] = normal_quantile(static_cast<double>(i) / kCells);
    return t;
  }();
  const double u = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
  const double x = u * kCells;
  const auto i = static_cast<int>(x);
  if (i <= 0 || i >= kCells - 1) return normal_quantile(u);
  return kTable[static_cast<size_t>(i)] + (x - i) * (kTable[static_cast<size_t>(i) + 1] - kTable[static_cast<size_t>(i)]);
}

class LengthDrawer {
 public:
  explicit LengthDrawer(const LengthModel& m) : m_(m) {
    if (m_.kind == LengthModel::Kind::Samples && !m_.samples.empty()) {
      double in = 0, out = 0;
      for (const auto& [i, o] : m_.samples) {
        in += i;
        out += o;
      }
      sample_mean_in_ = in / static_cast<double>(m_.samples.size());
      sample_mean_out_ = out / static_cast<double>(m_.samples.size());
    }
  }

  // Lengths for one request; `mean_in`/`mean_out` > 0 override the model's means.
  std::pair<int, int> draw(std::mt19937_64& rng, double mean_in, double mean_out) const {
    switch (m_.kind) {
      case LengthModel::Kind::Fixed:
        return {whole(mean_in > 0 ? mean_in : m_.mean_input), whole(mean_out > 0 ? mean_out : m_.mean_output)};
      case LengthModel::Kind::Lognormal:
        return {lognormal(rng, mean_in > 0 ? mean_in : m_.mean_input, m_.cv_input),
                lognormal(rng, mean_out > 0 ? mean_out : m_.mean_output, m_.cv_output)};
      case LengthModel::Kind::Samples: {
        if (m_.samples.empty()) return {1, 1};
        const auto& s = m_.samples[std::uniform_int_distribution<size_t>(0, m_.samples.size() - 1)(rng)];
        const double fi = mean_in > 0 ? mean_in / sample_mean_in_ : 1;
        const double fo = mean_out > 0 ? mean_out / sample_mean_out_ : 1;
        return {whole(s.first * fi), whole(s.second * fo)};
      }
    }
    return {1, 1};
  }

 private:
  static int whole(double v) { return std::max(1, static_cast<int>(std::lround(v))); }
  static int lognormal(std::mt19937_64& rng, double mean, double cv) {
    if (cv <= 0) return whole(mean);
    const double s2 = std::log(1 + cv * cv);
    return whole(std::exp(std::log(std::max(1e-9, mean)) - s2 / 2 + std::sqrt(s2) * standard_normal(rng)));
  }
  const LengthModel& m_;
  double sample_mean_in_ = 1, sample_mean_out_ = 1;
};

class RenewalReader final : public LoadReader {
 public:
  RenewalReader(const std::vector<Segment>& segs, const LengthModel& lengths, uint64_t seed)
      : segs_(segs), lengths_(lengths), rng_(seed) {}

  bool next(Request& r) override {
    if (k_ >= segs_.size()) return false;
    // The gap to the next arrival in operational time (mean 1), with the burstiness of the
    // segment the previous arrival fell in.
    const double shape = 1 / segs_[k_].dispersion;
    double g = std::gamma_distribution<double>(shape, 1 / shape)(rng_);
    while (k_ < segs_.size()) {
      const Segment& s = segs_[k_];
      const double total = s.mass(s.end - s.start);
      const double here = s.mass(u_);
      if (here + g <= total && s.r0 + s.r1 > 0) {
        u_ = std::min(s.end - s.start, s.inverse(here + g));
        r.arrival_s = s.start + u_;
        const auto [in, out] = lengths_.draw(rng_, s.mean_input, s.mean_output);
        r.input_tokens = in;
        r.output_tokens = out;
        return true;
      }
      g -= std::max(0.0, total - here);
      ++k_;
      u_ = 0;
    }
    return false;
  }

 private:
  const std::vector<Segment>& segs_;
  LengthDrawer lengths_;
  std::mt19937_64 rng_;
  size_t k_ = 0;
  double u_ = 0;  // offset into segment k_
};

class RenewalLoad final : public Load {
 public:
  RenewalLoad(std::vector<Segment> segs, double duration_s, LengthModel lengths, uint64_t seed)
      : segs_(std::move(segs)), duration_s_(duration_s), lengths_(std::move(lengths)), seed_(seed) {
    profile_.lengths = lengths_;
    profile_.seed = seed_;
    for (const auto& g : segs_)
      profile_.segments.push_back({g.start, g.end, g.r0, g.r1, g.dispersion, g.mean_input, g.mean_output});
  }
  std::unique_ptr<LoadReader> read() const override { return std::make_unique<RenewalReader>(segs_, lengths_, seed_); }
  double duration_s() const override { return duration_s_; }
  double expected_requests() const override {
    double n = 0;
    for (const auto& s : segs_) n += s.mass(s.end - s.start);
    return n;
  }
  const LoadProfile* profile() const override { return &profile_; }

 private:
  std::vector<Segment> segs_;
  double duration_s_;
  LengthModel lengths_;
  uint64_t seed_;
  LoadProfile profile_;
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r' && c != ' ') {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

const ProfileSegment* LoadProfile::at(double t_s) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), t_s,
                             [](double t, const ProfileSegment& g) { return t < g.start_s; });
  if (it == segments.begin()) return nullptr;
  --it;
  return t_s < it->end_s ? &*it : nullptr;
}

double LoadProfile::rate_at(double t_s) const {
  const ProfileSegment* g = at(t_s);
  if (!g) return 0;
  const double span = g->end_s - g->start_s;
  return span > 0 ? g->rate_start + (g->rate_end - g->rate_start) * (t_s - g->start_s) / span : g->rate_start;
}

double LoadProfile::mass(double a_s, double b_s) const {
  double n = 0;
  for (const auto& g : segments) {
    const double lo = std::max(a_s, g.start_s), hi = std::min(b_s, g.end_s);
    if (hi <= lo) continue;
    // The rate is linear on the segment: its integral is the width times the rate at the middle.
    const double span = g.end_s - g.start_s;
    const double mid = 0.5 * (lo + hi);
    const double r = span > 0 ? g.rate_start + (g.rate_end - g.rate_start) * (mid - g.start_s) / span : g.rate_start;
    n += r * (hi - lo);
  }
  return n;
}

LengthModel LengthModel::fixed(double input, double output) {
  LengthModel m;
  m.kind = Kind::Fixed;
  m.mean_input = input;
  m.mean_output = output;
  return m;
}

LengthModel LengthModel::lognormal(double input, double output, double cv_input, double cv_output) {
  LengthModel m;
  m.kind = Kind::Lognormal;
  m.mean_input = input;
  m.mean_output = output;
  m.cv_input = cv_input;
  m.cv_output = cv_output;
  return m;
}

LengthModel LengthModel::from_samples(std::vector<std::pair<int, int>> samples) {
  LengthModel m;
  m.kind = Kind::Samples;
  m.samples = std::move(samples);
  return m;
}

std::shared_ptr<const Load> trace_load(Trace t) { return std::make_shared<TraceLoad>(std::move(t)); }

std::shared_ptr<const Load> renewal_load(std::vector<RateSegment> schedule, double duration_s, LengthModel lengths,
                                         uint64_t seed) {
  std::stable_sort(schedule.begin(), schedule.end(),
                   [](const RateSegment& a, const RateSegment& b) { return a.start_s < b.start_s; });
  return std::make_shared<RenewalLoad>(segments(schedule, duration_s), duration_s, std::move(lengths), seed);
}

tl::expected<std::vector<CurveWindow>, std::string> parse_load_curve(const std::string& text) {
  static const char* kColumns[] = {"window_start_s", "requests_per_s", "index_of_dispersion", "mean_input_tokens",
                                   "mean_output_tokens"};
  std::istringstream in(text);
  std::string line;
  std::map<std::string, size_t> col;
  std::vector<CurveWindow> out;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line == "\r") continue;
    const auto cells = split(line);
    if (col.empty()) {
      for (size_t i = 0; i < cells.size(); ++i) col[cells[i]] = i;
      for (const char* c : kColumns)
        if (!col.count(c)) return tl::unexpected("line 1: no column \"" + std::string(c) + "\" in the header");
      continue;
    }
    double v[5];
    for (int k = 0; k < 5; ++k) {
      const size_t i = col[kColumns[k]];
      const std::string cell = i < cells.size() ? cells[i] : "";
      auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v[k]);
      if (ec != std::errc() || end != cell.data() + cell.size() || !std::isfinite(v[k]) || v[k] < 0)
        return tl::unexpected("line " + std::to_string(n) + ": " + kColumns[k] +
                              ": expected a non-negative number, got \"" + cell + "\"");
    }
    CurveWindow w{v[0], v[1], v[2] > 0 ? v[2] : 1, v[3], v[4], v[1] == 0 && v[3] == 0};
    if (!out.empty() && w.start_s <= out.back().start_s)
      return tl::unexpected("line " + std::to_string(n) + ": window_start_s: windows must be in increasing order");
    out.push_back(w);
  }
  if (out.size() < 2) return tl::unexpected(std::string("the curve needs at least two windows"));
  const double step = out[1].start_s - out[0].start_s;
  for (size_t i = 2; i < out.size(); ++i)
    if (std::abs(out[i].start_s - out[i - 1].start_s - step) > 1e-6 * step)
      return tl::unexpected("window at " + std::to_string(out[i].start_s) +
                            " s: windows must be evenly spaced (" + std::to_string(step) + " s)");
  return out;
}

std::vector<RateSegment> curve_schedule(const std::vector<CurveWindow>& windows, double rate_scale, double time_scale) {
  std::vector<CurveWindow> w = windows;
  // Fill gaps (and windows without length data) by interpolating between the nearest windows
  // that have the quantity.
  auto fill = [&](auto missing, auto get, auto set) {
    for (size_t i = 0; i < w.size(); ++i) {
      if (!missing(w[i])) continue;
      size_t a = i, b = i;
      while (a > 0 && missing(w[a])) --a;
      while (b + 1 < w.size() && missing(w[b])) ++b;
      const bool ha = !missing(w[a]), hb = !missing(w[b]);
      double v = 0;
      if (ha && hb) v = get(w[a]) + (get(w[b]) - get(w[a])) * static_cast<double>(i - a) / static_cast<double>(b - a);
      else if (ha) v = get(w[a]);
      else if (hb) v = get(w[b]);
      set(w[i], v);
    }
  };
  const std::vector<CurveWindow> original = w;
  auto gap_at = [&](const CurveWindow& x) { return original[static_cast<size_t>(&x - w.data())].gap; };
  fill(gap_at, [](const CurveWindow& x) { return x.requests_per_s; }, [](CurveWindow& x, double v) { x.requests_per_s = v; });
  fill(gap_at, [](const CurveWindow& x) { return x.dispersion; }, [](CurveWindow& x, double v) { x.dispersion = v; });
  auto no_lengths = [&](const CurveWindow& x) {
    const auto& o = original[static_cast<size_t>(&x - w.data())];
    return o.mean_input <= 0 || o.mean_output <= 0;
  };
  fill(no_lengths, [](const CurveWindow& x) { return x.mean_input; }, [](CurveWindow& x, double v) { x.mean_input = v; });
  fill(no_lengths, [](const CurveWindow& x) { return x.mean_output; }, [](CurveWindow& x, double v) { x.mean_output = v; });

  std::vector<RateSegment> out;
  const double t0 = w.empty() ? 0 : w.front().start_s;
  for (const auto& x : w) {
    RateSegment s;
    s.start_s = (x.start_s - t0) / time_scale;
    s.requests_per_s = x.requests_per_s * rate_scale * time_scale;
    s.dispersion = rate_scale < 1 ? 1 + rate_scale * (x.dispersion - 1) : x.dispersion;
    s.mean_input = x.mean_input;
    s.mean_output = x.mean_output;
    out.push_back(s);
  }
  return out;
}

Trace materialise(const Load& load) {
  Trace t;
  auto r = load.read();
  for (Request q; r->next(q);) t.requests.push_back(q);
  t.duration_s = load.duration_s();
  return t;
}

Trace poisson(const std::vector<RateSegment>& schedule, double duration_s, const LengthModel& lengths, uint64_t seed) {
  return materialise(*renewal_load(schedule, duration_s, lengths, seed));
}

Peak peak_load(const Load& load, double window_s) {
  Peak best;
  std::deque<Request> win;
  double tokens = 0, inputs = 0, outputs = 0;
  auto r = load.read();
  for (Request q; r->next(q);) {
    win.push_back(q);
    tokens += static_cast<double>(q.input_tokens) + q.output_tokens;  // ints would overflow
    inputs += q.input_tokens;
    outputs += q.output_tokens;
    while (win.front().arrival_s < q.arrival_s - window_s) {
      const Request& f = win.front();
      tokens -= static_cast<double>(f.input_tokens) + f.output_tokens;
      inputs -= f.input_tokens;
      outputs -= f.output_tokens;
      win.pop_front();
    }
    const double n = static_cast<double>(win.size());
    if (tokens / window_s > best.tokens_per_s) best = {tokens / window_s, n / window_s, inputs / n, outputs / n};
  }
  return best;
}

}  // namespace pdscaler::sim
