#!/usr/bin/env python3
"""A small HTTP fault proxy for the fault scenarios: loopback only, bounded, stopped by PID.

It sits between the operator and one upstream (the kube-apiserver over TLS, or Prometheus over
plain HTTP), forwards every request, and applies the faults set on its control port:

  curl -X PUT localhost:CTL/faults -d '[{"mode": "latency", "delay_s": 5, "path": "/apis/apps"}]'
  curl -X PUT localhost:CTL/faults -d '[]'        # back to plain forwarding
  curl localhost:CTL/stats                         # what was done, per mode

A rule applies to requests whose method is in `methods` (default: any) and whose path matches the
regular expression `path` (default: any), with probability `p` (default 1), and, with `watch`
true/false, only to watch requests or only to others. Modes:
  latency   delay_s before forwarding
  status    answer `code` without forwarding (429 carries Retry-After: retry_after_s; the body is
            a Kubernetes Status, or `body` when given)
  body      answer 200 with `body` (a proxy's HTML page, a stale or empty Prometheus answer)
  cut       forward the answer and close the connection after `after_bytes` bytes of body
            (a watch stream cut mid-event: the cut falls inside a JSON line)
  truncate  send the answer's headers with its full Content-Length, then half the body, then close
  garble    forward the answer with every `every`-th byte of the body replaced by '#'
  rewrite   forward the answer with each instant sample's value replaced by `value` ("NaN", "+Inf")
"""
import argparse
import http.client
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
       "content-length", "accept-encoding", "host"}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.stats = {}
        self.rng = random.Random(0)

    def pick(self, method, path):
        watch = "watch=1" in path or "watch=true" in path
        with self.lock:
            for r in self.rules:
                if r.get("methods") and method not in r["methods"]:
                    continue
                if r.get("path") and not re.search(r["path"], path):
                    continue
                if "watch" in r and bool(r["watch"]) != watch:
                    continue
                if self.rng.random() >= r.get("p", 1.0):
                    continue
                self.stats[r["mode"]] = self.stats.get(r["mode"], 0) + 1
                return r
            self.stats["forwarded"] = self.stats.get("forwarded", 0) + 1
        return None


STATE = State()
ARGS = None
SLOTS = None


def status_body(code, message):
    reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 409: "Conflict"}.get(code, "")
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def do_GET(self): self.handle_one()
    def do_POST(self): self.handle_one()
    def do_PUT(self): self.handle_one()
    def do_PATCH(self): self.handle_one()
    def do_DELETE(self): self.handle_one()

    def answer(self, code, body, content_type="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_one(self):
        if not SLOTS.acquire(timeout=30):
            self.answer(503, status_body(503, "fault proxy: too many connections"))
            return
        try:
            self.forward()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            SLOTS.release()

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        rule = STATE.pick(self.command, self.path)
        mode = rule["mode"] if rule else None
        if mode == "latency":
            time.sleep(float(rule.get("delay_s", 1)))
        elif mode == "status":
            code = int(rule.get("code", 503))
            extra = {"Retry-After": str(rule.get("retry_after_s", 1))} if code == 429 else None
            text = rule.get("body")
            self.answer(code, text.encode() if text is not None else status_body(code, "fault proxy: injected %d" % code),
                        rule.get("content_type", "application/json"), extra)
            return
        elif mode == "body":
            self.answer(200, rule.get("body", "").encode(), rule.get("content_type", "text/html"))
            return

        up = ARGS.upstream
        if up.startswith("https://"):
            host, port = up[8:].rsplit(":", 1)
            conn = http.client.HTTPSConnection(host, int(port), timeout=ARGS.upstream_timeout,
                                               context=ssl._create_unverified_context())
        else:
            host, port = up[7:].rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=ARGS.upstream_timeout)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
        except OSError as e:
            self.answer(503, status_body(503, "fault proxy: upstream unreachable: %s" % e))
            return
        try:
            streamed = resp.getheader("Content-Length") is None
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            if streamed:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.stream(resp, rule)
            else:
                data = resp.read()
                data = self.mangle(data, rule)
                full = len(data)
                if mode == "truncate":
                    data = data[: len(data) // 2]
                self.send_header("Content-Length", str(full))
                self.end_headers()
                self.wfile.write(data)
                if mode == "truncate":
                    self.cut()
        finally:
            conn.close()

    def mangle(self, data, rule):
        if not rule:
            return data
        if rule["mode"] == "garble":
            every = max(2, int(rule.get("every", 7)))
            b = bytearray(data)
            for i in range(every - 1, len(b), every):
                b[i] = ord("#")
            return bytes(b)
        if rule["mode"] == "rewrite":
            return re.sub(rb'("value":\[[0-9.e+]+,)"[^"]*"', rb'\1"' + rule.get("value", "NaN").encode() + rb'"', data)
        return data

    def stream(self, resp, rule):
        sent = 0
        limit = int(rule.get("after_bytes", 200)) if rule and rule["mode"] in ("cut", "truncate") else None
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            chunk = self.mangle(chunk, rule)
            if limit is not None and sent + len(chunk) >= limit:
                part = chunk[: max(1, limit - sent)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                self.cut()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            sent += len(chunk)
        self.wfile.write(b"0\r\n\r\n")

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        with STATE.lock:
            self.reply({"rules": STATE.rules, "stats": STATE.stats})

    def do_PUT(self):
        rules = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"[]")
        with STATE.lock:
            STATE.rules = rules
        self.reply({"rules": rules})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        if ARGS.verbose:
            super().handle_error(request, client_address)


def main():
    global ARGS, SLOTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", type=int, required=True, help="loopback port for the operator")
    ap.add_argument("--control", type=int, required=True, help="loopback port for the fault rules")
    ap.add_argument("--upstream", required=True, help="https://127.0.0.1:PORT or http://127.0.0.1:PORT")
    ap.add_argument("--tls-cert", help="serve TLS with this certificate (and --tls-key)")
    ap.add_argument("--tls-key")
    ap.add_argument("--max-connections", type=int, default=64)
    ap.add_argument("--upstream-timeout", type=float, default=120)
    ap.add_argument("--max-seconds", type=float, default=3600, help="exit after this long, whatever happens")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    SLOTS = threading.BoundedSemaphore(ARGS.max_connections)
    STATE.rng.seed(ARGS.seed)
    srv = Server(("127.0.0.1", ARGS.listen), Proxy)
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    ctl = Server(("127.0.0.1", ARGS.control), Control)
    for s in (srv, ctl):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("fault proxy on 127.0.0.1:%d -> %s (control :%d)" % (ARGS.listen, ARGS.upstream, ARGS.control), flush=True)
    time.sleep(ARGS.max_seconds)


if __name__ == "__main__":
    main()
