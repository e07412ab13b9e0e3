#include "pdscaler/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>
#include <random>

#include "pdscaler/sim/fluid.h"
#include "pdscaler/sim/stats.h"

namespace pdscaler::sim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class State { Starting, Ready, Draining, Gone };
enum class Kind : uint8_t { PrefillDone, FirstToken, DecodeBoundary, Tick, InstanceReady };

struct Event {
  double t;
  uint64_t seq;  // FIFO among equal times, for determinism
  Kind kind;
  int a;  // request or instance
  int b;  // prefill slot; role for InstanceReady (0 prefill, 1 decode); generation for DecodeBoundary
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

// A request between arrival and completion; its slot is reused afterwards.
struct Flight {
  double arrival = 0;
  int input = 0, output = 0;
  double service = 0;  // prefill service time
  double first_token = -1;
  int remaining = 0;   // decode tokens still to generate
  int prefill = -1;    // the prefill instance that served it
  bool feasible = true;
  bool live = false;   // between arrival and completion
};

struct PrefillInst {
  State state = State::Starting;
  std::deque<int> queue;
  std::vector<int> serving;  // request per data-parallel slot, -1 when free
  std::vector<double> started;  // when each slot's request started
  double work = 0;           // service seconds queued or in service (in-service ones whole)
  double free_at = 0;        // one data-parallel group: when its queue runs dry
  double tokens = 0;         // uncached input tokens queued or in service
  int first_tokens = 0;      // in the current window
  double ttft_sum = 0;
};

// Continuous batching, stepped lazily: between two changes of the batch (a request finishing, or
// one waiting to join) every step has the same length, so the instance jumps from change to
// change instead of visiting every step. Equivalent to stepping one by one.
struct DecodeInst {
  State state = State::Starting;
  std::vector<std::pair<long long, int>> batch;  // (step at which it finishes, request): a min-heap
  std::deque<int> waiting;
  std::vector<int> admitting;  // separate admission: requests in the current admission iteration
  long long steps = 0;     // steps completed as of t_sync
  double t_sync = 0;       // the last boundary processed
  double step_s = 0;       // length of each step of the current batch; 0 when idle
  uint32_t gen = 0;        // invalidates a boundary event rescheduled earlier
  double next_t = kInf;    // the scheduled boundary
  long long target_sum = 0;      // sum of the finishing steps of the batch
  long long waiting_tokens = 0;  // tokens still to generate by waiting and admitting requests
  double context = 0;            // input + output tokens of the batch (a proxy for KV in use)
  double tokens = 0, itl_token_sum = 0;  // in the current window
};

bool heap_later(const std::pair<long long, int>& a, const std::pair<long long, int>& b) { return a.first > b.first; }

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

Percentiles summarise(const LogHistogram& h) {
  return {h.mean(), h.quantile(0.5), h.quantile(0.9), h.quantile(0.99), h.quantile(0.999)};
}

class Engine {
 public:
  Engine(const Load& load, const FleetConfig& cfg, Policy& policy, const Progress& progress)
      : load_(load), cfg_(cfg), m_(cfg.model), policy_(policy), progress_(progress), reader_(load.read()),
        rng_(cfg.seed) {
    dp_ = std::max(1, m_.prefill.data_parallel_size);
    batch_cap_ = static_cast<int>(m_.decode.tpot_by_batch.max_x());
    if (m_.decode.max_batch_size) batch_cap_ = std::min(batch_cap_, *m_.decode.max_batch_size);
    batch_cap_ = std::max(1, batch_cap_);
    interval_ = policy.interval_s() > 0 ? policy.interval_s() : cfg.interval_s;
    tpot_alone_ = step_time(1);
    expected_ = std::max(1.0, load.expected_requests());
  }

  SimResult run() {
    for (int i = 0; i < cfg_.initial_prefill; ++i) add_prefill(true);
    for (int i = 0; i < cfg_.initial_decode; ++i) add_decode(true);
    summary_.initial_prefill = cfg_.initial_prefill;
    summary_.initial_decode = cfg_.initial_decode;
    have_next_ = reader_->next(next_);
    start_window(0);
    push(interval_, Kind::Tick, 0, 0);
    const double stop_at = load_.duration_s() + cfg_.max_overrun_s;
    while (true) {
      const bool arrival = have_next_ && (events_.empty() || next_.arrival_s <= events_.top().t);
      const double t = arrival ? next_.arrival_s : events_.empty() ? kInf : events_.top().t;
      if (t > stop_at) break;
      now_ = t;
      ++n_events_;
      if (arrival) {
        on_arrival(next_);
        have_next_ = reader_->next(next_);
      } else {
        const Event e = events_.top();
        events_.pop();
        switch (e.kind) {
          case Kind::PrefillDone: on_prefill_done(e.a, e.b); break;
          case Kind::FirstToken: on_first_token(e.a); break;
          case Kind::DecodeBoundary: on_boundary(e.a, static_cast<uint32_t>(e.b)); break;
          case Kind::Tick: on_tick(); break;
          case Kind::InstanceReady: on_ready(e.b, e.a); break;
        }
      }
      if (!have_next_ && in_flight_ == 0) break;
    }
    account();
    return finish();
  }

 private:
  void push(double t, Kind k, int a, int b) { events_.push({t, seq_++, k, a, b}); }

  double step_time(int batch) const {
    return m_.decode.tpot_by_batch.at(static_cast<double>(batch)).value + cfg_.engine.decode_step_gap_s;
  }

  // GPU-seconds accrue for every instance held, starting and draining included.
  void account() {
    const double dt = now_ - last_account_;
    if (dt > 0) {
      gpu_seconds_ += dt * (held_prefill_ * m_.prefill.gpus_per_replica + held_decode_ * m_.decode.gpus_per_replica);
      prefill_time_ += dt * held_prefill_;
      decode_time_ += dt * held_decode_;
      last_account_ = now_;
    }
  }
  template <typename T>
  static int count(const std::vector<T>& v, State s) {
    int n = 0;
    for (const auto& i : v) n += i.state == s;
    return n;
  }
  template <typename T>
  void set_state(T& inst, State s, int& held) {
    account();
    if (inst.state != State::Gone && s == State::Gone) --held;
    if (inst.state == State::Gone && s != State::Gone) ++held;
    inst.state = s;
  }

  int new_flight(const Request& q) {
    int id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<int>(flights_.size());
      flights_.emplace_back();
    }
    Flight& f = flights_[static_cast<size_t>(id)];
    f = Flight{};
    f.arrival = q.arrival_s;
    f.input = q.input_tokens;
    f.output = q.output_tokens;
    f.service = prefill_service_s(m_, q.input_tokens);
    f.live = true;
    return id;
  }

  void add_prefill(bool ready) {
    PrefillInst p;
    p.state = State::Gone;
    p.serving.assign(static_cast<size_t>(dp_), -1);
    p.started.assign(static_cast<size_t>(dp_), 0);
    prefill_.push_back(std::move(p));
    set_state(prefill_.back(), ready ? State::Ready : State::Starting, held_prefill_);
    if (!ready) push(now_ + cfg_.cold_start_s, Kind::InstanceReady, static_cast<int>(prefill_.size() - 1), 0);
  }
  void add_decode(bool ready) {
    DecodeInst d;
    d.state = State::Gone;
    decode_.push_back(std::move(d));
    set_state(decode_.back(), ready ? State::Ready : State::Starting, held_decode_);
    if (!ready) push(now_ + cfg_.cold_start_s, Kind::InstanceReady, static_cast<int>(decode_.size() - 1), 1);
  }

  // Tokens the decode instance still has to generate, as of now.
  long long decode_work(const DecodeInst& d) const {
    long long steps = d.steps;
    if (d.step_s > 0 && d.admitting.empty()) steps += static_cast<long long>(std::floor((now_ - d.t_sync) / d.step_s + 1e-12));
    return d.target_sum - static_cast<long long>(d.batch.size()) * steps + d.waiting_tokens;
  }

  // Service seconds an instance has left: its queue and what remains of the requests in service.
  double remaining_work(const PrefillInst& p) const {
    if (dp_ == 1) return std::max(0.0, p.free_at - now_);
    double w = p.work;
    for (size_t s = 0; s < p.serving.size(); ++s)
      if (p.serving[s] >= 0) w -= std::min(now_ - p.started[s], flights_[static_cast<size_t>(p.serving[s])].service);
    return w;
  }

  // The ready instance a new request goes to; -1 if none is ready. Least loaded: the one with
  // the least work left (queued tokens and the progress of the prefill in service), so a request
  // waits as in one pooled FCFS queue.
  int route_to_prefill() {
    if (cfg_.prefill_routing == Routing::Random) return random_ready(prefill_);
    int best = -1;
    double best_work = 0;
    for (size_t i = 0; i < prefill_.size(); ++i) {
      if (prefill_[i].state != State::Ready) continue;
      const double w = remaining_work(prefill_[i]);
      if (best < 0 || w < best_work) {
        best = static_cast<int>(i);
        best_work = w;
      }
    }
    return best;
  }
  int route_to_decode() {
    if (cfg_.decode_routing == Routing::Random) return random_ready(decode_);
    int best = -1;
    long long best_work = 0;
    for (size_t i = 0; i < decode_.size(); ++i) {
      if (decode_[i].state != State::Ready) continue;
      const long long w = decode_work(decode_[i]);
      if (best < 0 || w < best_work) {
        best = static_cast<int>(i);
        best_work = w;
      }
    }
    return best;
  }
  template <typename Inst>
  int random_ready(const std::vector<Inst>& v) {
    ready_scratch_.clear();
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].state == State::Ready) ready_scratch_.push_back(static_cast<int>(i));
    if (ready_scratch_.empty()) return -1;
    return ready_scratch_[std::uniform_int_distribution<size_t>(0, ready_scratch_.size() - 1)(rng_)];
  }

  void on_arrival(const Request& q) {
    const int r = new_flight(q);
    Flight& f = flights_[static_cast<size_t>(r)];
    ++arrived_;
    ++in_flight_;
    f.feasible = f.service + ttft_overhead_s(m_, q.input_tokens) <= m_.slo.ttft_s * (1 + 1e-9) &&
                 (q.output_tokens <= 1 || tpot_alone_ <= m_.slo.tpot_s * (1 + 1e-9));
    win_.arrivals++;
    win_.input_tokens += q.input_tokens;
    win_.input_tokens_sq += static_cast<double>(q.input_tokens) * q.input_tokens;
    win_.output_tokens += q.output_tokens;
    win_.output_tokens_sq += static_cast<double>(q.output_tokens) * q.output_tokens;
    if (win_.output_length_counts.empty()) win_.output_length_counts.assign(output_length_bounds().size(), 0);
    ++win_.output_length_counts[output_length_bucket(q.output_tokens)];
    win_.prefill_work_s += f.service;
    const auto bin = static_cast<size_t>(std::max(0.0, (now_ - win_start_) / cfg_.bin_s));
    if (bin < win_.arrival_bins.size()) ++win_.arrival_bins[bin];
    else if (!win_.arrival_bins.empty()) ++win_.arrival_bins.back();
    win_load_tokens_ += q.input_tokens + q.output_tokens;
    if (progress_ && arrived_ % 50000 == 0) progress_(std::min(1.0, static_cast<double>(arrived_) / expected_));
    route_prefill(r);
  }

  // Pooled: a ready instance with a free slot and nothing queued of its own takes from the
  // shared queue.
  static bool takes_pooled(const PrefillInst& p) {
    return p.state == State::Ready && p.queue.empty() && std::find(p.serving.begin(), p.serving.end(), -1) != p.serving.end();
  }
  // The least loaded instance that takes a pooled request now; -1 if every one is busy, and the
  // request waits in the shared queue.
  int free_prefill() const {
    int best = -1;
    double best_work = 0;
    for (size_t i = 0; i < prefill_.size(); ++i) {
      const auto& p = prefill_[i];
      if (!takes_pooled(p)) continue;
      const double w = remaining_work(p);
      if (best < 0 || w < best_work) {
        best = static_cast<int>(i);
        best_work = w;
      }
    }
    return best;
  }

  void route_prefill(int r) {
    const int i = cfg_.pooled_prefill ? free_prefill() : route_to_prefill();
    if (i < 0) {
      prefill_backlog_.push_back(r);
      return;
    }
    assign_prefill(i, r);
  }

  // Pooled: instance i takes the oldest requests of the shared queue while it has a free slot.
  void pull_prefill(int i) {
    if (!cfg_.pooled_prefill) return;
    const auto& p = prefill_[static_cast<size_t>(i)];
    while (!prefill_backlog_.empty() && takes_pooled(p)) {
      const int r = prefill_backlog_.front();
      prefill_backlog_.pop_front();
      assign_prefill(i, r);
    }
  }

  void assign_prefill(int i, int r) {
    auto& p = prefill_[static_cast<size_t>(i)];
    const Flight& f = flights_[static_cast<size_t>(r)];
    p.work += f.service;
    p.free_at = std::max(p.free_at, now_) + f.service;
    p.tokens += f.input * (1 - m_.workload.prefix_cache_hit_rate);
    p.queue.push_back(r);
    start_prefill(i);
  }

  void start_prefill(int i) {
    auto& p = prefill_[static_cast<size_t>(i)];
    for (size_t s = 0; s < p.serving.size() && !p.queue.empty(); ++s) {
      if (p.serving[s] >= 0) continue;
      const int r = p.queue.front();
      p.queue.pop_front();
      p.serving[s] = r;
      p.started[s] = now_;
      push(now_ + flights_[static_cast<size_t>(r)].service, Kind::PrefillDone, i, static_cast<int>(s));
    }
  }

  void on_prefill_done(int i, int slot) {
    auto& p = prefill_[static_cast<size_t>(i)];
    const int r = p.serving[static_cast<size_t>(slot)];
    p.serving[static_cast<size_t>(slot)] = -1;
    Flight& f = flights_[static_cast<size_t>(r)];
    p.work = std::max(0.0, p.work - f.service);
    p.tokens = std::max(0.0, p.tokens - f.input * (1 - m_.workload.prefix_cache_hit_rate));
    f.prefill = i;
    push(now_ + ttft_overhead_s(m_, f.input), Kind::FirstToken, r, 0);
    start_prefill(i);
    pull_prefill(i);
    if (p.state == State::Draining && idle(p)) set_state(p, State::Gone, held_prefill_);
  }

  void on_first_token(int r) {
    Flight& f = flights_[static_cast<size_t>(r)];
    f.first_token = now_;
    f.remaining = f.output - 1;
    const double ttft = now_ - f.arrival;
    win_.first_tokens++;
    win_.ttft_sum += ttft;
    if (ttft <= m_.slo.ttft_s * (1 + 1e-9)) win_.ttft_met++;
    win_ttfts_.push_back(ttft);
    if (f.prefill >= 0 && static_cast<size_t>(f.prefill) < prefill_.size()) {
      prefill_[static_cast<size_t>(f.prefill)].first_tokens++;
      prefill_[static_cast<size_t>(f.prefill)].ttft_sum += ttft;
    }
    if (f.remaining <= 0) complete(r);
    else enqueue_decode(r);
  }

  void enqueue_decode(int r) {
    const int i = route_to_decode();
    if (i < 0) {
      decode_backlog_.push_back(r);
      return;
    }
    auto& d = decode_[static_cast<size_t>(i)];
    d.waiting.push_back(r);
    d.waiting_tokens += flights_[static_cast<size_t>(r)].remaining;
    if (d.step_s == 0 && d.admitting.empty()) {
      // Idle: a boundary now.
      d.t_sync = now_;
      settle(i);
    } else if (d.admitting.empty() && static_cast<int>(d.batch.size()) < batch_cap_) {
      // Joins at the next step boundary, which may come before the next change scheduled.
      const double j = std::floor((now_ - d.t_sync) / d.step_s + 1e-12) + 1;
      const double t = d.t_sync + j * d.step_s;
      if (t < d.next_t) schedule_boundary(i, t);
    }
  }

  void schedule_boundary(int i, double t) {
    auto& d = decode_[static_cast<size_t>(i)];
    ++d.gen;
    d.next_t = t;
    push(t, Kind::DecodeBoundary, i, static_cast<int>(d.gen));
  }

  void on_boundary(int i, uint32_t gen) {
    auto& d = decode_[static_cast<size_t>(i)];
    if (gen != d.gen) return;  // superseded by an earlier boundary
    d.next_t = kInf;
    if (!d.admitting.empty()) {
      // The admission iteration ended: its requests join the batch.
      for (int r : d.admitting) join(d, r);
      d.admitting.clear();
      d.t_sync = now_;
      settle(i, /*admit=*/false);
      return;
    }
    const long long k = std::max<long long>(1, std::llround((now_ - d.t_sync) / d.step_s));
    const double n = static_cast<double>(d.batch.size());
    d.tokens += n * static_cast<double>(k);
    d.itl_token_sum += n * static_cast<double>(k) * d.step_s;
    d.steps += k;
    d.t_sync = now_;
    while (!d.batch.empty() && d.batch.front().first <= d.steps) {
      std::pop_heap(d.batch.begin(), d.batch.end(), heap_later);
      const int r = d.batch.back().second;
      d.target_sum -= d.batch.back().first;
      d.batch.pop_back();
      const Flight& f = flights_[static_cast<size_t>(r)];
      d.context -= f.input + f.output;
      complete(r);
    }
    settle(i);
  }

  void join(DecodeInst& d, int r) {
    const Flight& f = flights_[static_cast<size_t>(r)];
    d.waiting_tokens -= f.remaining;
    d.batch.emplace_back(d.steps + f.remaining, r);
    std::push_heap(d.batch.begin(), d.batch.end(), heap_later);
    d.target_sum += d.steps + f.remaining;
    d.context += f.input + f.output;
  }

  // At a boundary (t_sync == now): admit waiting requests into free slots, then schedule the next
  // change: the first finish, or the next step if requests still wait for a slot.
  void settle(int i, bool admit = true) {
    auto& d = decode_[static_cast<size_t>(i)];
    if (admit) {
      const int room = batch_cap_ - static_cast<int>(d.batch.size());
      const int n = std::min(room, static_cast<int>(d.waiting.size()));
      if (n > 0 && cfg_.engine.separate_admission) {
        for (int k = 0; k < n; ++k) {
          d.admitting.push_back(d.waiting.front());
          d.waiting.pop_front();
        }
        const double len = cfg_.engine.admission_s >= 0 ? cfg_.engine.admission_s : step_time(n);
        d.step_s = std::max(1e-12, len);
        schedule_boundary(i, now_ + d.step_s);
        return;
      }
      for (int k = 0; k < n; ++k) {
        join(d, d.waiting.front());
        d.waiting.pop_front();
      }
    }
    if (d.batch.empty()) {
      d.step_s = 0;
      if (d.state == State::Draining && d.waiting.empty()) set_state(d, State::Gone, held_decode_);
      return;
    }
    d.step_s = step_time(static_cast<int>(d.batch.size()));
    long long k = d.batch.front().first - d.steps;
    if (!d.waiting.empty() && static_cast<int>(d.batch.size()) < batch_cap_) k = 1;
    schedule_boundary(i, d.t_sync + static_cast<double>(std::max<long long>(1, k)) * d.step_s);
  }

  void complete(int r) {
    Flight& f = flights_[static_cast<size_t>(r)];
    const double ttft = f.first_token - f.arrival;
    const double tpot = f.output > 1 ? (now_ - f.first_token) / (f.output - 1) : 0;
    const bool ttft_ok = ttft <= m_.slo.ttft_s * (1 + 1e-9);
    const bool tpot_ok = tpot <= m_.slo.tpot_s * (1 + 1e-9);
    ++completed_;
    ttft_ok_ += ttft_ok;
    tpot_ok_ += tpot_ok;
    if (f.feasible) {
      ++feasible_;
      ++win_feasible_;
    }
    if (ttft_ok && tpot_ok) {
      ++met_;
      if (f.feasible) {
        ++feasible_met_;
        ++win_feasible_met_;
      }
      good_tokens_ += f.input + f.output;
    }
    ttft_h_.add(ttft);
    tpot_h_.add(tpot);
    e2e_h_.add(now_ - f.arrival);
    last_finish_ = std::max(last_finish_, now_);
    win_.finished++;
    win_.tpot_sum += tpot;
    if (tpot_ok) win_.tpot_met++;
    win_tpots_.push_back(tpot);
    --in_flight_;
    f.live = false;
    free_.push_back(r);
  }

  void on_ready(int role, int i) {
    if (role == 0) {
      auto& p = prefill_[static_cast<size_t>(i)];
      if (p.state != State::Starting) return;
      set_state(p, State::Ready, held_prefill_);
      if (cfg_.pooled_prefill) return pull_prefill(i);
      std::deque<int> backlog;
      backlog.swap(prefill_backlog_);
      for (int r : backlog) route_prefill(r);
    } else {
      auto& d = decode_[static_cast<size_t>(i)];
      if (d.state != State::Starting) return;
      set_state(d, State::Ready, held_decode_);
      std::deque<int> backlog;
      backlog.swap(decode_backlog_);
      for (int r : backlog) enqueue_decode(r);
    }
  }

  void start_window(double t) {
    win_ = WindowStats{};
    win_start_ = t;
    // At most an hour of bins (a policy that is asked rarely gets its last bin fuller).
    win_.arrival_bins.assign(static_cast<size_t>(std::clamp(std::ceil(interval_ / cfg_.bin_s - 1e-9), 1.0, 3600.0)), 0);
    win_load_tokens_ = 0;
    win_ttfts_.clear();
    win_tpots_.clear();
    for (auto& p : prefill_) p.first_tokens = 0, p.ttft_sum = 0;
    for (auto& d : decode_) d.tokens = 0, d.itl_token_sum = 0;
  }

  void on_tick() {
    WindowStats w = std::move(win_);
    w.now_s = now_;
    w.window_s = now_ - win_start_;
    w.load_end_s = load_.duration_s();
    w.prefill_ready = count(prefill_, State::Ready);
    w.prefill_starting = count(prefill_, State::Starting);
    w.decode_ready = count(decode_, State::Ready);
    w.decode_starting = count(decode_, State::Starting);
    w.prefill_waiting = static_cast<int>(prefill_backlog_.size());
    double shared_tokens = 0;  // a pooled queue's, shown as an equal share on each ready instance
    for (int r : prefill_backlog_) {
      const Flight& f = flights_[static_cast<size_t>(r)];
      w.prefill_backlog_s += f.service;
      shared_tokens += f.input * (1 - m_.workload.prefix_cache_hit_rate);
    }
    const int ready_prefill = count(prefill_, State::Ready);
    const double share = cfg_.pooled_prefill && ready_prefill > 0 ? shared_tokens / ready_prefill : 0;
    for (const auto& p : prefill_) {
      if (p.state == State::Gone || p.state == State::Starting) continue;
      w.prefill_waiting += static_cast<int>(p.queue.size());
      w.prefill_backlog_s += remaining_work(p);
      w.prefill_instances.push_back({p.state == State::Ready, p.tokens + (p.state == State::Ready ? share : 0),
                                     p.first_tokens, p.ttft_sum});
    }
    w.decode_waiting = static_cast<int>(decode_backlog_.size());
    for (const auto& d : decode_) {
      if (d.state == State::Gone || d.state == State::Starting) continue;
      const int batch = static_cast<int>(d.batch.size());
      const int waiting = static_cast<int>(d.waiting.size() + d.admitting.size());
      w.decode_running += batch;
      w.decode_waiting += waiting;
      w.decode_instances.push_back({d.state == State::Ready, batch, waiting, d.context, d.tokens, d.itl_token_sum});
    }

    Sample s;
    s.t_s = now_;
    s.load_tokens_per_s = win_load_tokens_ / std::max(1e-9, w.window_s);
    s.prefill = held_prefill_;
    s.decode = held_decode_;
    s.prefill_ready = w.prefill_ready;
    s.decode_ready = w.decode_ready;
    s.ttft_p50 = percentile(win_ttfts_, 0.5);
    s.ttft_p90 = percentile(win_ttfts_, 0.9);
    s.tpot_p50 = percentile(win_tpots_, 0.5);
    s.tpot_p90 = percentile(win_tpots_, 0.9);
    s.attainment = win_feasible_ > 0 ? static_cast<double>(win_feasible_met_) / static_cast<double>(win_feasible_) : -1;
    win_feasible_ = win_feasible_met_ = 0;
    timeline_.push_back(s);
    max_prefill_ = std::max(max_prefill_, held_prefill_);
    max_decode_ = std::max(max_decode_, held_decode_);
    start_window(now_);

    Target t = policy_.decide(w);
    t.prefill = std::clamp(t.prefill, m_.prefill.min_replicas, m_.prefill.max_replicas);
    t.decode = std::clamp(t.decode, m_.decode.min_replicas, m_.decode.max_replicas);
    if (have_next_ || in_flight_ > 0) {  // never strand work: a role with requests keeps one instance
      t.prefill = std::max(t.prefill, 1);
      t.decode = std::max(t.decode, 1);
    }
    resize(prefill_, t.prefill, held_prefill_, [this] { add_prefill(false); });
    for (size_t i = 0; cfg_.pooled_prefill && i < prefill_.size(); ++i) pull_prefill(static_cast<int>(i));  // back from draining
    resize(decode_, t.decode, held_decode_, [this] { add_decode(false); });
    push(now_ + interval_, Kind::Tick, 0, 0);
  }

  // An instance with nothing queued or in service (so a draining one can go).
  static bool idle(const PrefillInst& p) {
    return p.queue.empty() && std::all_of(p.serving.begin(), p.serving.end(), [](int r) { return r < 0; });
  }
  static bool idle(const DecodeInst& d) { return d.batch.empty() && d.waiting.empty() && d.admitting.empty(); }

  double load_of(const PrefillInst& p) const { return remaining_work(p); }
  double load_of(const DecodeInst& d) const { return static_cast<double>(decode_work(d)); }

  // Up: take back draining instances first (they are warm), then start new ones. Down: cancel
  // starting instances first, then drain the least loaded; an idle one goes at once.
  template <typename Inst, typename Add>
  void resize(std::vector<Inst>& v, int want, int& held, Add add) {
    int active = count(v, State::Starting) + count(v, State::Ready);
    for (size_t i = 0; i < v.size() && active < want; ++i)
      if (v[i].state == State::Draining) { set_state(v[i], State::Ready, held); ++active; }
    while (active < want) { add(); ++active; }
    for (size_t i = v.size(); i-- > 0 && active > want;)
      if (v[i].state == State::Starting) { set_state(v[i], State::Gone, held); --active; }
    while (active > want) {
      int best = -1;
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i].state == State::Ready && (best < 0 || load_of(v[i]) < load_of(v[static_cast<size_t>(best)])))
          best = static_cast<int>(i);
      if (best < 0) break;
      Inst& inst = v[static_cast<size_t>(best)];
      set_state(inst, State::Draining, held);
      if (idle(inst)) set_state(inst, State::Gone, held);
      --active;
    }
  }

  SimResult finish() {
    SimResult out;
    Summary& s = summary_;
    s.policy = policy_.name();
    s.requests = arrived_;
    s.completed = completed_;
    s.slo_met = met_;
    s.events = n_events_;
    // Unfinished requests (cut off at the overrun) count as missing the SLO; they are counted
    // feasible or not by their own lengths.
    size_t unfinished_feasible = 0;
    for (const auto& f : flights_) unfinished_feasible += f.live && f.feasible;
    s.feasible = feasible_ + unfinished_feasible;
    s.feasible_met = feasible_met_;
    const double n = static_cast<double>(s.requests);
    s.slo_attainment = s.requests ? static_cast<double>(met_) / n : 0;
    s.feasible_attainment = s.feasible ? static_cast<double>(feasible_met_) / static_cast<double>(s.feasible) : 0;
    s.infeasible_share = s.requests ? 1 - static_cast<double>(s.feasible) / n : 0;
    s.ttft_attainment = s.requests ? static_cast<double>(ttft_ok_) / n : 0;
    s.tpot_attainment = s.requests ? static_cast<double>(tpot_ok_) / n : 0;
    s.duration_s = std::max(last_finish_, now_);
    s.goodput_tokens_per_s = s.duration_s > 0 ? good_tokens_ / s.duration_s : 0;
    s.gpu_hours = gpu_seconds_ / 3600;
    s.goodput_tokens_per_gpu_hour = s.gpu_hours > 0 ? good_tokens_ / s.gpu_hours : 0;
    s.ttft = summarise(ttft_h_);
    s.tpot = summarise(tpot_h_);
    s.e2e = summarise(e2e_h_);
    s.mean_prefill = now_ > 0 ? prefill_time_ / now_ : 0;
    s.mean_decode = now_ > 0 ? decode_time_ / now_ : 0;
    s.max_prefill = max_prefill_;
    s.max_decode = max_decode_;
    out.summary = s;
    out.timeline = std::move(timeline_);
    return out;
  }

  const Load& load_;
  const FleetConfig& cfg_;
  const planner::PlanInput& m_;
  Policy& policy_;
  const Progress& progress_;
  std::unique_ptr<LoadReader> reader_;
  Request next_;
  bool have_next_ = false;
  std::mt19937_64 rng_;
  std::vector<int> ready_scratch_;
  int dp_ = 1;
  int batch_cap_ = 1;
  double interval_ = 15;
  double tpot_alone_ = 0;
  double expected_ = 1;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  double now_ = 0;
  size_t n_events_ = 0;
  std::vector<Flight> flights_;
  std::vector<int> free_;
  size_t arrived_ = 0, in_flight_ = 0, completed_ = 0, met_ = 0, feasible_ = 0, feasible_met_ = 0;
  size_t ttft_ok_ = 0, tpot_ok_ = 0;
  size_t win_feasible_ = 0, win_feasible_met_ = 0;
  double good_tokens_ = 0, last_finish_ = 0;
  LogHistogram ttft_h_, tpot_h_, e2e_h_;
  std::vector<PrefillInst> prefill_;
  std::vector<DecodeInst> decode_;
  int held_prefill_ = 0, held_decode_ = 0, max_prefill_ = 0, max_decode_ = 0;
  std::deque<int> prefill_backlog_, decode_backlog_;
  WindowStats win_;
  double win_start_ = 0;
  double win_load_tokens_ = 0;
  std::vector<double> win_ttfts_, win_tpots_;
  std::vector<Sample> timeline_;
  double gpu_seconds_ = 0, prefill_time_ = 0, decode_time_ = 0, last_account_ = 0;
  Summary summary_;
};

}  // namespace

const std::vector<double>& output_length_bounds() {
  static const std::vector<double> kBounds = [] {
    std::vector<double> b;
    for (double decade = 1; decade <= 1e5; decade *= 10)
      for (double m : {1.0, 2.0, 5.0}) b.push_back(m * decade);
    b.push_back(std::numeric_limits<double>::infinity());
    return b;
  }();
  return kBounds;
}

size_t output_length_bucket(double tokens) {
  const auto& b = output_length_bounds();
  return static_cast<size_t>(std::lower_bound(b.begin(), b.end(), tokens) - b.begin());
}

std::vector<std::pair<double, double>> cumulative_output_histogram(const std::vector<int>& counts) {
  std::vector<std::pair<double, double>> out;
  const auto& b = output_length_bounds();
  double sum = 0;
  for (size_t i = 0; i < counts.size() && i < b.size(); ++i) {
    sum += counts[i];
    out.emplace_back(b[i], sum);
  }
  return out;
}

double prefill_service_s(const planner::PlanInput& m, int input_tokens) {
  const double len = input_tokens * (1 - m.workload.prefix_cache_hit_rate);
  return std::max(1, m.prefill.data_parallel_size) * len / m.prefill.max_throughput.at(std::max(1.0, len)).value;
}

double ttft_overhead_s(const planner::PlanInput& m, int input_tokens) {
  return m.prefill.overhead_s + m.prefill.overhead_per_input_token_s * input_tokens;
}

SimResult simulate(const Load& load, const FleetConfig& cfg, Policy& policy, const Progress& progress) {
  if (cfg.fluid) return simulate_fluid(load, cfg, policy, progress);
  Engine e(load, cfg, policy, progress);
  return e.run();
}

SimResult simulate(const Trace& trace, const FleetConfig& cfg, Policy& policy, const Progress& progress) {
  return simulate(*trace_load(trace), cfg, policy, progress);
}

}  // namespace pdscaler::sim
