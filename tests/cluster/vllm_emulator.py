#!/usr/bin/env python3
"""Stands in for the vLLM engines of a prefill/decode fleet (no GPUs here): it reads how many
prefill and decode replicas are ready from the real API server, replays a load schedule through a
model of them, and serves what real vLLM engines would export. Requests arrive as a Poisson
process at the schedule's rate and go to a prefill instance picked at random, each a FIFO queue
serving a prompt in input/max-throughput seconds (so each instance is an M/D/1 queue, as a real
prefill engine with one request per batch is); then they decode as a fluid batch at TPOT(batch).
It exports vLLM's metric names, types, labels and histogram buckets (vllm:request_success_total,
vllm:num_requests_running/waiting, vllm:prefix_cache_queries_total/hits_total,
vllm:request_prompt_tokens, vllm:request_generation_tokens, vllm:time_to_first_token_seconds,
vllm:request_time_per_output_token_seconds), one endpoint per pool on loopback. Stops on SIGTERM."""
import argparse
import collections
import heapq
import http.server
import json
import random
import signal
import ssl
import threading
import time
import urllib.request

TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]


class Histogram:
    def __init__(self, buckets):
        self.buckets, self.counts, self.sum, self.count = buckets, [0.0] * len(buckets), 0.0, 0.0

    def observe(self, value, n=1.0):
        self.sum += value * n
        self.count += n
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += n

    def lines(self, name, labels):
        out = [f"# TYPE {name} histogram"]
        for b, c in zip(self.buckets, self.counts):
            out.append(f'{name}_bucket{{{labels},le="{float(b)}"}} {c}')
        out += [f'{name}_bucket{{{labels},le="+Inf"}} {self.count}', f"{name}_sum{{{labels}}} {self.sum}",
                f"{name}_count{{{labels}}} {self.count}"]
        return out


def tpot_at(pts, batch):
    """TPOT at a batch size, linear between the profile's (batch, seconds) points, flat outside."""
    if batch <= pts[0][0]:
        return pts[0][1]
    for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
        if batch <= b1:
            return t0 + (t1 - t0) * (batch - b0) / (b1 - b0)
    return pts[-1][1]


class Fleet:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.ready = {"prefill": 1, "decode": 1}
        self.queue = 0                    # requests waiting for prefill
        self.prefill_running = 0          # prompts being prefilled
        self.decoding = collections.deque()  # (finish time, requests)
        self.success = 0.0
        self.prompt = Histogram(TOKEN_BUCKETS)
        self.generation = Histogram(TOKEN_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.tpot = Histogram(TPOT_BUCKETS)
        self.start = time.monotonic()
        self.steps = sorted(a.steps)
        self.rng = random.Random(a.seed)
        self.free_at = []                   # per prefill instance: when its queue empties
        self.prefilling = []                # heap of (prefill done, started, arrived)
        self.unserved = collections.deque()  # arrivals while no prefill instance was ready
        self.next_arrival = self.start

    def rate(self, t):
        tpm = self.steps[0][1]
        for at, v in self.steps:
            if t >= at:
                tpm = v
        return tpm / 60 / (self.a.input_length + self.a.output_length)

    def tpot_at(self, batch):
        return tpot_at(self.a.tpot_table, batch)

    def step(self, dt):
        a = self.a
        now = time.monotonic()
        with self.lock:
            service = a.input_length / a.max_throughput
            n = max(0, self.ready["prefill"])
            # Instances come and go with the ready count; a new one starts idle.
            while len(self.free_at) < n:
                self.free_at.append(now)
            del self.free_at[n:]
            # Poisson arrivals up to now, each to a random instance's FIFO queue.
            while self.next_arrival <= now:
                t = self.next_arrival
                if self.free_at:
                    i = self.rng.randrange(len(self.free_at))
                    start = max(t, self.free_at[i])
                    self.free_at[i] = start + service
                    heapq.heappush(self.prefilling, (start + service, start, t))
                else:
                    self.unserved.append(t)  # no prefill instance: waits for one
                rate = self.rate(t - self.start)
                self.next_arrival = t + (self.rng.expovariate(rate) if rate > 0 else 0.5)
            while self.unserved and self.free_at:
                t = self.unserved.popleft()
                i = self.rng.randrange(len(self.free_at))
                start = max(now, self.free_at[i])
                self.free_at[i] = start + service
                heapq.heappush(self.prefilling, (start + service, start, t))
            # Prompts done by now start decoding; their first token came at the end of prefill.
            while self.prefilling and self.prefilling[0][0] <= now:
                done_at, _, arrived = heapq.heappop(self.prefilling)
                self.ttft.observe(done_at - arrived + a.overhead)
                self.prompt.observe(a.input_length)
                batch = (self.running() + 1) / max(1, self.ready["decode"])
                tpot = self.tpot_at(batch)
                self.decoding.append((done_at + a.output_length * tpot, 1, tpot))
            self.queue = len(self.unserved) + sum(1 for e in self.prefilling if e[1] > now)
            self.prefill_running = len(self.prefilling) - (self.queue - len(self.unserved))
            self.decoding = collections.deque(sorted(self.decoding))
            while self.decoding and self.decoding[0][0] <= now:
                _, n_done, tpot = self.decoding.popleft()
                self.success += n_done
                self.generation.observe(a.output_length, n_done)
                self.tpot.observe(tpot, n_done)

    def running(self):  # requests in decode: entries are (finish time, requests, TPOT)
        return sum(e[1] for e in self.decoding)

    def exposition(self, pool):
        labels = f'model_name="{self.a.model}",engine="0"'
        with self.lock:
            if pool == "prefill":
                out = ["# TYPE vllm:num_requests_waiting gauge", f"vllm:num_requests_waiting{{{labels}}} {self.queue}",
                       "# TYPE vllm:num_requests_running gauge", f"vllm:num_requests_running{{{labels}}} {self.prefill_running}"]
                queried = self.prompt.sum
                out += ["# TYPE vllm:prefix_cache_queries_total counter", f"vllm:prefix_cache_queries_total{{{labels}}} {queried}",
                        "# TYPE vllm:prefix_cache_hits_total counter",
                        f"vllm:prefix_cache_hits_total{{{labels}}} {queried * self.a.prefix_hit_rate}"]
                out += self.prompt.lines("vllm:request_prompt_tokens", labels)
                out += self.ttft.lines("vllm:time_to_first_token_seconds", labels)
            else:
                out = ["# TYPE vllm:num_requests_waiting gauge", f"vllm:num_requests_waiting{{{labels}}} 0",
                       "# TYPE vllm:num_requests_running gauge", f"vllm:num_requests_running{{{labels}}} {self.running()}",
                       "# TYPE vllm:request_success_total counter",
                       f'vllm:request_success_total{{{labels},finished_reason="stop"}} {self.success}']
                out += self.generation.lines("vllm:request_generation_tokens", labels)
                out += self.tpot.lines("vllm:request_time_per_output_token_seconds", labels)
        return "\n".join(out) + "\n"


def trace_steps(path, speed, mean_tpm):
    """The per-minute arrival counts of an Azure-format trace as a schedule: trace minute k starts at
    k*60/speed emulated seconds, with the load rescaled so that its mean is mean_tpm."""
    import csv
    import datetime
    counts = collections.Counter()
    t0 = None
    with open(path) as f:
        for row in csv.DictReader(f):
            ts = datetime.datetime.fromisoformat(row["TIMESTAMP"][:26])
            t0 = t0 or ts
            counts[int((ts - t0).total_seconds() // 60)] += 1
    minutes = range(max(counts) + 1)
    mean = sum(counts.values()) / len(minutes)
    return [(k * 60 / speed, mean_tpm * counts[k] / mean) for k in minutes]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--prefill", required=True, help="prefill Deployment")
    ap.add_argument("--decode", required=True, help="decode Deployment")
    ap.add_argument("--prefill-port", type=int, required=True)
    ap.add_argument("--decode-port", type=int, required=True)
    ap.add_argument("--schedule", help="SECONDS:TOKENS_PER_MINUTE,... from start")
    ap.add_argument("--trace", help="Azure-format trace whose arrival-rate shape to replay instead")
    ap.add_argument("--trace-speed", type=float, default=10, help="trace seconds per emulated second")
    ap.add_argument("--mean-tokens-per-minute", type=float, default=4e6, help="the trace's mean load, rescaled to this")
    ap.add_argument("--input-length", type=float, default=6144)
    ap.add_argument("--output-length", type=float, default=512)
    ap.add_argument("--max-throughput", type=float, default=28300)
    ap.add_argument("--overhead", type=float, default=0.1)
    ap.add_argument("--tpot", default="1:0.009,16:0.014,34:0.020,64:0.031")
    ap.add_argument("--model", default="deepseek-v31")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefix-hit-rate", type=float, default=0.0, help="share of prompt tokens reported as cache hits")
    a = ap.parse_args()
    a.tpot_table = [tuple(float(x) for x in p.split(":")) for p in a.tpot.split(",")]
    if a.trace:
        a.steps = trace_steps(a.trace, a.trace_speed, a.mean_tokens_per_minute)
    elif a.schedule:
        a.steps = [tuple(float(x) for x in s.split(":")) for s in a.schedule.split(",")]
    else:
        ap.error("give --schedule or --trace")
    fleet = Fleet(a)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def serve(pool, port):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = fleet.exposition(pool).encode()
                self.send_response(200 if self.path.startswith("/metrics") else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    servers = [serve("prefill", a.prefill_port), serve("decode", a.decode_port)]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    last_read = 0.0
    last = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now - last_read > 0.5:
            last_read = now
            for role, name in (("prefill", a.prefill), ("decode", a.decode)):
                try:
                    req = urllib.request.Request(f"{a.server}/apis/apps/v1/namespaces/{a.namespace}/deployments/{name}")
                    req.add_header("Authorization", "Bearer " + a.token)
                    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
                        fleet.ready[role] = json.loads(r.read()).get("status", {}).get("readyReplicas", 0) or 0
                except Exception:
                    pass  # keep the last count while the API server is away
        fleet.step(now - last)
        last = now
        stop.wait(0.1)
    for s in servers:
        s.shutdown()


if __name__ == "__main__":
    main()
