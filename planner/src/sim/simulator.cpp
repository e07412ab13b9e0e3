#include "pdscaler/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>

namespace pdscaler::sim {
namespace {

enum class State { Starting, Ready, Draining, Gone };
enum class Kind { Arrival, PrefillDone, DecodeEnqueue, StepEnd, Tick, InstanceReady };

struct Event {
  double t;
  long long seq;  // FIFO among equal times, for determinism
  Kind kind;
  int a;  // request or instance
  int b;  // prefill server slot, or role for InstanceReady (0 prefill, 1 decode)
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

struct ReqState {
  double first_token = -1;
  double finish = -1;
  int remaining = 0;  // decode tokens still to generate
};

struct PrefillInst {
  State state = State::Starting;
  std::deque<int> queue;
  std::vector<int> serving;  // request per data-parallel slot, -1 when free
  double work = 0;           // service seconds queued or in service
};

struct DecodeInst {
  State state = State::Starting;
  std::vector<int> running;
  std::deque<int> waiting;
  bool stepping = false;
  long long work = 0;  // tokens still to generate for its requests
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

Percentiles summarise(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  p.p50 = percentile(v, 0.50);
  p.p90 = percentile(v, 0.90);
  p.p99 = percentile(v, 0.99);
  return p;
}

class Engine {
 public:
  Engine(const Trace& trace, const FleetConfig& cfg, Policy& policy, const Progress& progress)
      : trace_(trace), cfg_(cfg), m_(cfg.model), policy_(policy), progress_(progress),
        req_(trace.requests.size()) {
    dp_ = std::max(1, m_.prefill.data_parallel_size);
    batch_cap_ = static_cast<int>(m_.decode.tpot_by_batch.max_x());
    if (m_.decode.max_batch_size) batch_cap_ = std::min(batch_cap_, *m_.decode.max_batch_size);
    batch_cap_ = std::max(1, batch_cap_);
  }

  SimResult run() {
    for (int i = 0; i < cfg_.initial_prefill; ++i) add_prefill(true);
    for (int i = 0; i < cfg_.initial_decode; ++i) add_decode(true);
    if (!trace_.requests.empty()) push(trace_.requests[0].arrival_s, Kind::Arrival, 0, 0);
    push(cfg_.interval_s, Kind::Tick, 0, 0);
    const double stop_at = trace_.duration_s + cfg_.max_overrun_s;
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      if (e.t > stop_at) break;
      now_ = e.t;
      ++n_events_;
      switch (e.kind) {
        case Kind::Arrival: on_arrival(e.a); break;
        case Kind::PrefillDone: on_prefill_done(e.a, e.b); break;
        case Kind::DecodeEnqueue: on_decode_enqueue(e.a); break;
        case Kind::StepEnd: on_step_end(e.a); break;
        case Kind::Tick: on_tick(); break;
        case Kind::InstanceReady: on_ready(e.b, e.a); break;
      }
      if (done_ == req_.size() && next_arrival_ >= trace_.requests.size()) break;
    }
    account();
    return finish();
  }

 private:
  void push(double t, Kind k, int a, int b) { events_.push({t, seq_++, k, a, b}); }

  // GPU-seconds accrue for every instance held, starting and draining included.
  void account() {
    const double dt = now_ - last_account_;
    if (dt > 0) {
      gpu_seconds_ += dt * (held(prefill_) * m_.prefill.gpus_per_replica + held(decode_) * m_.decode.gpus_per_replica);
      prefill_time_ += dt * held(prefill_);
      decode_time_ += dt * held(decode_);
      last_account_ = now_;
    }
  }
  template <typename T>
  static int held(const std::vector<T>& v) {
    int n = 0;
    for (const auto& i : v) n += i.state != State::Gone;
    return n;
  }
  template <typename T>
  static int count(const std::vector<T>& v, State s) {
    int n = 0;
    for (const auto& i : v) n += i.state == s;
    return n;
  }

  double service_time(const Request& r) const {
    const double len = r.input_tokens * (1 - m_.workload.prefix_cache_hit_rate);
    return dp_ * len / m_.prefill.max_throughput.at(std::max(1.0, len)).value;
  }
  double overhead(const Request& r) const {
    return m_.prefill.overhead_s + m_.prefill.overhead_per_input_token_s * r.input_tokens;
  }

  void add_prefill(bool ready) {
    account();
    PrefillInst p;
    p.state = ready ? State::Ready : State::Starting;
    p.serving.assign(static_cast<size_t>(dp_), -1);
    prefill_.push_back(std::move(p));
    if (!ready) push(now_ + cfg_.cold_start_s, Kind::InstanceReady, static_cast<int>(prefill_.size() - 1), 0);
  }
  void add_decode(bool ready) {
    account();
    DecodeInst d;
    d.state = ready ? State::Ready : State::Starting;
    decode_.push_back(std::move(d));
    if (!ready) push(now_ + cfg_.cold_start_s, Kind::InstanceReady, static_cast<int>(decode_.size() - 1), 1);
  }

  // The ready instance with the least outstanding work (routing, and whom to drain); -1 if none.
  template <typename Inst>
  static int least_loaded(const std::vector<Inst>& v) {
    int best = -1;
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].state == State::Ready && (best < 0 || v[i].work < v[static_cast<size_t>(best)].work)) best = static_cast<int>(i);
    return best;
  }

  void on_arrival(int r) {
    const Request& q = trace_.requests[static_cast<size_t>(r)];
    win_.arrivals++;
    win_.input_tokens += q.input_tokens;
    win_.input_tokens_sq += static_cast<double>(q.input_tokens) * q.input_tokens;
    win_.output_tokens += q.output_tokens;
    win_load_tokens_ += q.input_tokens + q.output_tokens;
    next_arrival_ = static_cast<size_t>(r) + 1;
    if (next_arrival_ < trace_.requests.size())
      push(trace_.requests[next_arrival_].arrival_s, Kind::Arrival, static_cast<int>(next_arrival_), 0);
    if (progress_ && (next_arrival_ % 20000 == 0)) progress_(static_cast<double>(next_arrival_) / static_cast<double>(trace_.requests.size()));
    route_prefill(r);
  }

  void route_prefill(int r) {
    const int i = least_loaded(prefill_);
    if (i < 0) {
      prefill_backlog_.push_back(r);
      return;
    }
    auto& p = prefill_[static_cast<size_t>(i)];
    p.work += service_time(trace_.requests[static_cast<size_t>(r)]);
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
      push(now_ + service_time(trace_.requests[static_cast<size_t>(r)]), Kind::PrefillDone, i, static_cast<int>(s));
    }
  }

  void on_prefill_done(int i, int slot) {
    auto& p = prefill_[static_cast<size_t>(i)];
    const int r = p.serving[static_cast<size_t>(slot)];
    p.serving[static_cast<size_t>(slot)] = -1;
    const Request& q = trace_.requests[static_cast<size_t>(r)];
    p.work = std::max(0.0, p.work - service_time(q));
    const double first = now_ + overhead(q);
    auto& st = req_[static_cast<size_t>(r)];
    st.first_token = first;
    st.remaining = q.output_tokens - 1;
    first_token_times_.push_back({first, first - q.arrival_s});
    if (st.remaining <= 0) complete(r, first);
    else push(first, Kind::DecodeEnqueue, r, 0);
    start_prefill(i);
    maybe_retire_prefill(i);
  }

  void maybe_retire_prefill(int i) {
    auto& p = prefill_[static_cast<size_t>(i)];
    if (p.state != State::Draining || !idle(p)) return;
    account();
    p.state = State::Gone;
  }

  void on_decode_enqueue(int r) {
    const int i = least_loaded(decode_);
    if (i < 0) {
      decode_backlog_.push_back(r);
      return;
    }
    auto& d = decode_[static_cast<size_t>(i)];
    d.waiting.push_back(r);
    d.work += req_[static_cast<size_t>(r)].remaining;
    if (!d.stepping) start_step(i);
  }

  void start_step(int i) {
    auto& d = decode_[static_cast<size_t>(i)];
    while (!d.waiting.empty() && static_cast<int>(d.running.size()) < batch_cap_) {
      d.running.push_back(d.waiting.front());
      d.waiting.pop_front();
    }
    if (d.running.empty()) {
      d.stepping = false;
      return;
    }
    d.stepping = true;
    push(now_ + m_.decode.tpot_by_batch.at(static_cast<double>(d.running.size())).value, Kind::StepEnd, i, 0);
  }

  void on_step_end(int i) {
    auto& d = decode_[static_cast<size_t>(i)];
    size_t keep = 0;
    for (size_t k = 0; k < d.running.size(); ++k) {
      const int r = d.running[k];
      auto& st = req_[static_cast<size_t>(r)];
      --st.remaining;
      --d.work;
      if (st.remaining <= 0) complete(r, now_);
      else d.running[keep++] = r;
    }
    d.running.resize(keep);
    start_step(i);
    if (d.state == State::Draining && idle(d)) {
      account();
      d.state = State::Gone;
    }
  }

  void complete(int r, double t) {
    auto& st = req_[static_cast<size_t>(r)];
    st.finish = t;
    ++done_;
    const Request& q = trace_.requests[static_cast<size_t>(r)];
    const double tpot = q.output_tokens > 1 ? (t - st.first_token) / (q.output_tokens - 1) : 0;
    finish_times_.push_back({t, tpot});
  }

  void on_ready(int role, int i) {
    if (role == 0) {
      auto& p = prefill_[static_cast<size_t>(i)];
      if (p.state != State::Starting) return;
      p.state = State::Ready;
      std::deque<int> backlog;
      backlog.swap(prefill_backlog_);
      for (int r : backlog) route_prefill(r);
    } else {
      auto& d = decode_[static_cast<size_t>(i)];
      if (d.state != State::Starting) return;
      d.state = State::Ready;
      std::deque<int> backlog;
      backlog.swap(decode_backlog_);
      for (int r : backlog) on_decode_enqueue(r);
    }
  }

  void on_tick() {
    // Window statistics from the events since the last tick.
    WindowStats w = win_;
    w.now_s = now_;
    w.window_s = cfg_.interval_s;
    w.last_arrival_s = trace_.duration_s;
    std::vector<double> ttfts, tpots;
    for (const auto& [t, v] : first_token_times_)
      if (t <= now_) { w.first_tokens++; w.ttft_sum += v; ttfts.push_back(v); }
    for (const auto& [t, v] : finish_times_)
      if (t <= now_) { w.finished++; w.tpot_sum += v; tpots.push_back(v); }
    // Keep what lies in the future (first tokens are stamped after the KV transfer).
    std::erase_if(first_token_times_, [&](const auto& p) { return p.first <= now_; });
    std::erase_if(finish_times_, [&](const auto& p) { return p.first <= now_; });
    w.prefill_ready = count(prefill_, State::Ready);
    w.prefill_starting = count(prefill_, State::Starting);
    w.decode_ready = count(decode_, State::Ready);
    w.decode_starting = count(decode_, State::Starting);
    w.prefill_waiting = static_cast<int>(prefill_backlog_.size());
    for (const auto& p : prefill_) w.prefill_waiting += static_cast<int>(p.queue.size());
    w.decode_waiting = static_cast<int>(decode_backlog_.size());
    for (const auto& d : decode_) {
      w.decode_running += static_cast<int>(d.running.size());
      w.decode_waiting += static_cast<int>(d.waiting.size());
    }

    Sample s;
    s.t_s = now_;
    s.load_tokens_per_s = win_load_tokens_ / cfg_.interval_s;
    s.prefill = held(prefill_);
    s.decode = held(decode_);
    s.prefill_ready = w.prefill_ready;
    s.decode_ready = w.decode_ready;
    s.ttft_p50 = percentile(ttfts, 0.5);
    s.ttft_p90 = percentile(ttfts, 0.9);
    s.tpot_p50 = percentile(tpots, 0.5);
    s.tpot_p90 = percentile(tpots, 0.9);
    timeline_.push_back(s);
    win_ = WindowStats{};
    win_load_tokens_ = 0;

    Target t = policy_.decide(w);
    const bool pending = done_ < next_arrival_ || next_arrival_ < trace_.requests.size();
    t.prefill = std::clamp(t.prefill, m_.prefill.min_replicas, m_.prefill.max_replicas);
    t.decode = std::clamp(t.decode, m_.decode.min_replicas, m_.decode.max_replicas);
    if (pending) {  // never strand work: a role with requests keeps at least one instance
      t.prefill = std::max(t.prefill, 1);
      t.decode = std::max(t.decode, 1);
    }
    resize_prefill(t.prefill);
    resize_decode(t.decode);
    push(now_ + cfg_.interval_s, Kind::Tick, 0, 0);
  }

  // An instance with nothing queued or in service (so a draining one can go).
  static bool idle(const PrefillInst& p) {
    return p.queue.empty() && std::all_of(p.serving.begin(), p.serving.end(), [](int r) { return r < 0; });
  }
  static bool idle(const DecodeInst& d) { return !d.stepping && d.waiting.empty(); }

  void resize_prefill(int want) { resize(prefill_, want, [this] { add_prefill(false); }); }
  void resize_decode(int want) { resize(decode_, want, [this] { add_decode(false); }); }

  // Up: take back draining instances first (they are warm), then start new ones. Down: cancel
  // starting instances first, then drain the least loaded; an idle one goes at once.
  template <typename Inst, typename Add>
  void resize(std::vector<Inst>& v, int want, Add add) {
    int active = count(v, State::Starting) + count(v, State::Ready);
    for (size_t i = 0; i < v.size() && active < want; ++i)
      if (v[i].state == State::Draining) { v[i].state = State::Ready; ++active; }
    while (active < want) { add(); ++active; }
    for (size_t i = v.size(); i-- > 0 && active > want;)
      if (v[i].state == State::Starting) { account(); v[i].state = State::Gone; --active; }
    while (active > want) {
      const int i = least_loaded(v);
      if (i < 0) break;
      Inst& best = v[static_cast<size_t>(i)];
      best.state = State::Draining;
      if (idle(best)) { account(); best.state = State::Gone; }
      --active;
    }
  }

  SimResult finish() {
    SimResult out;
    Summary& s = out.summary;
    s.policy = policy_.name();
    s.requests = trace_.requests.size();
    s.events = n_events_;
    std::vector<double> ttft, tpot, e2e;
    double good_tokens = 0, last = 0;
    for (size_t i = 0; i < req_.size(); ++i) {
      const auto& st = req_[i];
      const Request& q = trace_.requests[i];
      if (st.finish < 0) continue;
      ++s.completed;
      const double f = st.first_token - q.arrival_s;
      const double p = q.output_tokens > 1 ? (st.finish - st.first_token) / (q.output_tokens - 1) : 0;
      ttft.push_back(f);
      tpot.push_back(p);
      e2e.push_back(st.finish - q.arrival_s);
      last = std::max(last, st.finish);
      if (f <= m_.slo.ttft_s * (1 + 1e-9) && p <= m_.slo.tpot_s * (1 + 1e-9)) {
        ++s.slo_met;
        good_tokens += q.input_tokens + q.output_tokens;
      }
    }
    s.slo_attainment = s.requests ? static_cast<double>(s.slo_met) / static_cast<double>(s.requests) : 0;
    const double first = trace_.requests.empty() ? 0 : trace_.requests.front().arrival_s;
    s.duration_s = std::max(last, now_) - first;
    s.goodput_tokens_per_s = s.duration_s > 0 ? good_tokens / s.duration_s : 0;
    s.gpu_hours = gpu_seconds_ / 3600;
    s.goodput_tokens_per_gpu_hour = s.gpu_hours > 0 ? good_tokens / s.gpu_hours : 0;
    s.ttft = summarise(std::move(ttft));
    s.tpot = summarise(std::move(tpot));
    s.e2e = summarise(std::move(e2e));
    s.mean_prefill = now_ > 0 ? prefill_time_ / now_ : 0;
    s.mean_decode = now_ > 0 ? decode_time_ / now_ : 0;
    for (const auto& x : timeline_) {
      s.max_prefill = std::max(s.max_prefill, x.prefill);
      s.max_decode = std::max(s.max_decode, x.decode);
    }
    out.timeline = std::move(timeline_);
    return out;
  }

  const Trace& trace_;
  const FleetConfig& cfg_;
  const planner::PlanInput& m_;
  Policy& policy_;
  const Progress& progress_;
  int dp_ = 1;
  int batch_cap_ = 1;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  long long seq_ = 0;
  double now_ = 0;
  size_t n_events_ = 0;
  std::vector<ReqState> req_;
  size_t done_ = 0;
  size_t next_arrival_ = 0;
  std::vector<PrefillInst> prefill_;
  std::vector<DecodeInst> decode_;
  std::deque<int> prefill_backlog_, decode_backlog_;
  WindowStats win_;
  double win_load_tokens_ = 0;
  std::vector<std::pair<double, double>> first_token_times_, finish_times_;
  std::vector<Sample> timeline_;
  double gpu_seconds_ = 0, prefill_time_ = 0, decode_time_ = 0, last_account_ = 0;
};

}  // namespace

SimResult simulate(const Trace& trace, const FleetConfig& cfg, Policy& policy, const Progress& progress) {
  Engine e(trace, cfg, policy, progress);
  return e.run();
}

}  // namespace pdscaler::sim
