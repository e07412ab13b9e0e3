#!/usr/bin/env python3
"""The disaggregated router in front of a fleet of real engine pods (tests/cluster/vllm_engine.py):
requests arrive as a Poisson process at a schedule's rate; each goes to a Ready prefill pod picked
at random (POST /v1/prefill, answered when its first token is out), then to a Ready decode pod
(POST /v1/decode, answered when its last token is out), as a disaggregated proxy does. Pods are
discovered from the API server (the pods of each Deployment's selector that are Ready and not
terminating, at their pod IPs), refreshed every second. A pod that answers 503 (loading or
draining), drops the connection or does not answer within 30 s (counted as a timeout) is retried
on another, up to 8 times; a request that none took
is lost. On SIGTERM it writes a JSON summary to --out: sent, completed, lost, retried, and how many
were served by a pod (prefill or decode) that was terminating by the time it answered (drained). Loopback API access only; stopped by PID."""
import argparse
import json
import os
import random
import signal
import ssl
import threading
import time
import urllib.error
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from vllm_emulator import trace_steps  # noqa: E402  (the emulator's trace-shape reader)


class Pods:
    def __init__(self, a):
        self.a, self.lock, self.ready, self.terminating = a, threading.Lock(), {"prefill": [], "decode": []}, set()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def refresh(self):
        for role, app in (("prefill", self.a.prefill), ("decode", self.a.decode)):
            url = f"{self.a.server}/api/v1/namespaces/{self.a.namespace}/pods?labelSelector=app%3D{app}"
            req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.a.token})
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=5) as r:
                    items = json.loads(r.read())["items"]
            except Exception:
                continue  # keep the last view while the API server is away
            ready, gone = [], set()
            for p in items:
                ip = p.get("status", {}).get("podIP")
                if not ip:
                    continue
                if p["metadata"].get("deletionTimestamp"):
                    gone.add(ip)
                    continue
                conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions") or []}
                if conds.get("Ready") == "True":
                    ready.append(ip)
            with self.lock:
                self.ready[role] = ready
                self.terminating |= gone

    def pick(self, role, avoid):
        with self.lock:
            choices = [ip for ip in self.ready[role] if ip not in avoid] or list(self.ready[role])
        return random.choice(choices) if choices else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--prefill", required=True, help="prefill Deployment (pods labelled app=NAME)")
    ap.add_argument("--decode", required=True, help="decode Deployment")
    ap.add_argument("--port", type=int, default=8000, help="the engines' port")
    ap.add_argument("--schedule", help="SECONDS:TOKENS_PER_MINUTE,... from start")
    ap.add_argument("--trace", help="Azure-format trace whose arrival-rate shape to replay instead")
    ap.add_argument("--trace-speed", type=float, default=10, help="trace seconds per emulated second")
    ap.add_argument("--mean-tokens-per-minute", type=float, default=4e6, help="the trace's mean load, rescaled to this")
    ap.add_argument("--input-length", type=int, default=6144)
    ap.add_argument("--output-length", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.trace:
        steps = trace_steps(a.trace, a.trace_speed, a.mean_tokens_per_minute)
    elif a.schedule:
        steps = sorted(tuple(float(x) for x in s.split(":")) for s in a.schedule.split(","))
    else:
        ap.error("give --schedule or --trace")
    pods = Pods(a)
    rng = random.Random(a.seed)
    random.seed(a.seed + 1)
    stats = {"sent": 0, "completed": 0, "lost": 0, "retried": 0, "timeouts": 0, "drained": 0, "in_flight": 0}
    lock = threading.Lock()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def call(role, body):
        """POSTs to a Ready pod of ROLE, retrying on another; returns (pod IP, answer) or (None, None)."""
        tried = set()
        for attempt in range(8):
            ip = pods.pick(role, tried)
            if ip is None:
                time.sleep(0.5)
                continue
            tried.add(ip)
            req = urllib.request.Request(f"http://{ip}:{a.port}/v1/{role}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return ip, json.loads(r.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                with lock:
                    stats["retried"] += 1
                    if isinstance(e, TimeoutError) or "timed out" in str(e):
                        stats["timeouts"] += 1
                time.sleep(0.2)
        return None, None

    def one():
        with lock:
            stats["sent"] += 1
            stats["in_flight"] += 1
        ok, on_terminating = False, False
        ip, _ = call("prefill", {"prompt_tokens": a.input_length})
        if ip is not None:
            on_terminating = ip in pods.terminating
            ip, _ = call("decode", {"output_tokens": a.output_length})
            ok = ip is not None
            on_terminating = on_terminating or (ok and ip in pods.terminating)
        with lock:
            stats["in_flight"] -= 1
            stats["completed" if ok else "lost"] += 1
            if ok and on_terminating:
                stats["drained"] += 1

    def refresher():
        while not stop.is_set():
            pods.refresh()
            stop.wait(1.0)

    threading.Thread(target=refresher, daemon=True).start()
    t0 = time.monotonic()
    next_at = t0
    while not stop.is_set():
        now = time.monotonic()
        tpm = steps[0][1]
        for at, v in steps:
            if now - t0 >= at:
                tpm = v
        rate = tpm / 60 / (a.input_length + a.output_length)
        while next_at <= now:
            threading.Thread(target=one, daemon=True).start()
            next_at += rng.expovariate(rate) if rate > 0 else 0.5
        stop.wait(min(0.05, max(0.0, next_at - time.monotonic())))
    # Let what is in flight finish (bounded), then report.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if stats["in_flight"] == 0:
                break
        time.sleep(0.2)
    with lock:
        json.dump(stats, open(a.out, "w"))


if __name__ == "__main__":
    main()
