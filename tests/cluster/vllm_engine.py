#!/usr/bin/env python3
"""One engine instance of a prefill/decode fleet, as a process of its own (one per pod on the real
node; no GPU here): it loads for --startup-delay seconds like a model does (GET /health is 503
until then, as vLLM's is), then serves requests that a router sends it and exports vLLM's metric
names, types, labels and buckets for this instance only, so Prometheus scrapes per-pod series as
in production.

  prefill  POST /v1/prefill {"prompt_tokens": N}: a FIFO queue, one prompt at a time in
           N / --max-throughput seconds (an M/D/1 queue under Poisson arrivals); answers when the
           first token is out, with {"ttft": seconds}.
  decode   POST /v1/decode {"output_tokens": N}: joins the running batch; every request advances at
           TPOT(batch) from --tpot; answers when its last token is out, with {"tpot": seconds}.

Draining: GET /drain (the pod's preStop hook) or SIGTERM stops accepting (503, /health 503),
finishes what it has within --drain-timeout, then answers; on SIGTERM the process then exits 0.
It logs one line per event to stdout ("loaded", "draining", "drained N in S s")."""
import argparse
import collections
import http.server
import json
import signal
import sys
import threading
import time

from vllm_emulator import TOKEN_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS, Histogram, tpot_at


def say(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


class Engine:
    def __init__(self, a):
        self.a = a
        self.cv = threading.Condition()
        self.loaded_at = time.monotonic() + a.startup_delay
        self.draining = False
        self.queue = collections.deque()  # prefill: [prompt tokens, done event, result]
        self.busy = 0                     # prefill: prompts being served (0 or 1)
        self.batch = []                   # decode: [tokens left, tokens, started, done event, result]
        self.success = 0
        self.prompt = Histogram(TOKEN_BUCKETS)
        self.generation = Histogram(TOKEN_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.tpot = Histogram(TPOT_BUCKETS)
        self.served = 0

    def loaded(self):
        return time.monotonic() >= self.loaded_at

    def accepting(self):
        return self.loaded() and not self.draining

    def in_flight(self):
        return len(self.queue) + self.busy + len(self.batch)

    def tpot_at(self, batch):
        return tpot_at(self.a.tpot_table, batch)

    def submit(self, tokens):
        """Queues a request; returns its (done event, result dict), or None when not accepting."""
        done, result = threading.Event(), {}
        with self.cv:
            if not self.accepting():
                return None
            if self.a.role == "prefill":
                self.queue.append([tokens, done, result, time.monotonic()])
            else:
                self.batch.append([float(tokens), tokens, time.monotonic(), done, result])
            self.cv.notify_all()
        return done, result

    def prefill_loop(self):
        while True:
            with self.cv:
                while not self.queue:
                    self.cv.wait()
                tokens, done, result, arrived = self.queue.popleft()
                self.busy = 1
            time.sleep(tokens / self.a.max_throughput)
            with self.cv:
                self.busy = 0
                ttft = time.monotonic() - arrived + self.a.overhead
                self.ttft.observe(ttft)
                self.prompt.observe(tokens)
                self.success += 1
                self.served += 1
                result["ttft"] = ttft
                self.cv.notify_all()
            done.set()

    def decode_loop(self):
        last = time.monotonic()
        while True:
            time.sleep(0.01)
            now = time.monotonic()
            with self.cv:
                dt, last = now - last, now
                if not self.batch:
                    continue
                step = dt / self.tpot_at(len(self.batch))
                finished = []
                for r in self.batch:
                    r[0] -= step
                    if r[0] <= 0:
                        finished.append(r)
                for r in finished:
                    self.batch.remove(r)
                    _, tokens, started, done, result = r
                    tpot = (now - started) / max(1, tokens)
                    self.tpot.observe(tpot)
                    self.generation.observe(tokens)
                    self.success += 1
                    self.served += 1
                    result["tpot"] = tpot
                    done.set()
                if finished:
                    self.cv.notify_all()

    def drain(self):
        """Stops accepting and waits (bounded) until nothing is in flight; returns (requests, seconds)."""
        t0 = time.monotonic()
        with self.cv:
            first = not self.draining
            self.draining = True
            had = self.in_flight()
            if first:
                say(f"draining: {had} requests in flight, accepting no more")
            self.cv.wait_for(lambda: self.in_flight() == 0, timeout=self.a.drain_timeout)
            left = self.in_flight()
        took = time.monotonic() - t0
        if first:
            say(f"drained {had - left} requests in {took:.1f} s" + (f", {left} left at the timeout" if left else ""))
        return had - left, took

    def exposition(self):
        labels = f'model_name="{self.a.model}",engine="0"'
        with self.cv:
            if self.a.role == "prefill":
                waiting, running = len(self.queue), self.busy
            else:
                waiting, running = 0, len(self.batch)
            out = ["# TYPE vllm:num_requests_waiting gauge", f"vllm:num_requests_waiting{{{labels}}} {waiting}",
                   "# TYPE vllm:num_requests_running gauge", f"vllm:num_requests_running{{{labels}}} {running}"]
            if self.a.role == "prefill":
                q = self.prompt.sum
                out += ["# TYPE vllm:prefix_cache_queries_total counter", f"vllm:prefix_cache_queries_total{{{labels}}} {q}",
                        "# TYPE vllm:prefix_cache_hits_total counter", f"vllm:prefix_cache_hits_total{{{labels}}} 0.0"]
                out += self.prompt.lines("vllm:request_prompt_tokens", labels)
                out += self.ttft.lines("vllm:time_to_first_token_seconds", labels)
            else:
                out += ["# TYPE vllm:request_success_total counter",
                        f'vllm:request_success_total{{{labels},finished_reason="stop"}} {self.success}']
                out += self.generation.lines("vllm:request_generation_tokens", labels)
                out += self.tpot.lines("vllm:request_time_per_output_token_seconds", labels)
        return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["prefill", "decode"], required=True)
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--model", default="deepseek-v31")
    ap.add_argument("--startup-delay", type=float, default=0, help="seconds of 'loading the model' before /health is 200")
    ap.add_argument("--max-throughput", type=float, default=28300, help="prefill tokens/s")
    ap.add_argument("--overhead", type=float, default=0.1, help="seconds added to each TTFT")
    ap.add_argument("--tpot", default="1:0.009,16:0.014,34:0.020,64:0.031", help="BATCH:SECONDS,...")
    ap.add_argument("--drain-timeout", type=float, default=60)
    a = ap.parse_args()
    a.tpot_table = [tuple(float(x) for x in p.split(":")) for p in a.tpot.split(",")]
    eng = Engine(a)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, code, body, ctype="application/json"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/metrics"):
                self.reply(200, eng.exposition(), "text/plain; version=0.0.4")
            elif self.path.startswith("/health"):
                self.reply(200 if eng.accepting() else 503, "{}")
            elif self.path.startswith("/drain"):
                n, took = eng.drain()
                self.reply(200, json.dumps({"drained": n, "seconds": took}))
            else:
                self.reply(404, "{}")

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
                key = "prompt_tokens" if a.role == "prefill" else "output_tokens"
                tokens = int(body[key])
                if tokens <= 0 or self.path != f"/v1/{a.role}":
                    raise ValueError(self.path)
            except (ValueError, KeyError, TypeError):
                return self.reply(400, '{"error": "bad request"}')
            got = eng.submit(tokens)
            if got is None:
                return self.reply(503, '{"error": "not accepting (loading or draining)"}')
            done, result = got
            done.wait()
            self.reply(200, json.dumps(result))

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer((a.host, a.port), H)
    srv.daemon_threads = True
    threading.Thread(target=eng.prefill_loop if a.role == "prefill" else eng.decode_loop, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    say(f"{a.role} engine on {a.host}:{a.port}, loading for {a.startup_delay:.0f} s")
    threading.Timer(a.startup_delay, lambda: say("loaded, accepting requests")).start()
    stop.wait()
    eng.drain()
    say(f"exiting after serving {eng.served} requests")
    sys.stdout.flush()
    srv.shutdown()


if __name__ == "__main__":
    main()
