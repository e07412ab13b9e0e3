#!/usr/bin/env python3
"""The fault proxy does what its rules say (a unit test, a few seconds): against a loopback
upstream serving a Prometheus-shaped answer and a chunked stream, each mode is applied to the
requests it matches and to no other, and the proxy stops on SIGTERM."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1764700000.1,"7"]}]}}'
LINES = [b'{"type":"ADDED","object":{"metadata":{"name":"a%d"}}}\n' % i for i in range(20)]


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if "watch=1" in self.path:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in LINES:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path="/api/v1/query?query=x"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        try:
            return r.status, dict(r.getheaders()), r.read()
        except http.client.IncompleteRead as e:
            return r.status, dict(r.getheaders()), b"INCOMPLETE:" + e.partial
    finally:
        c.close()


def main():
    up = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    up.handle_error = lambda *a: None  # the proxy cutting a stream resets this side too
    threading.Thread(target=up.serve_forever, daemon=True).start()
    listen, control = free_port(), free_port()
    proxy = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_proxy.py"),
                              "--listen", str(listen), "--control", str(control),
                              "--upstream", "http://127.0.0.1:%d" % up.server_address[1], "--max-seconds", "60"])
    failures = []

    def check(what, ok):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    def rules(r):
        c = http.client.HTTPConnection("127.0.0.1", control, timeout=5)
        c.request("PUT", "/faults", body=json.dumps(r))
        c.getresponse().read()
        c.close()

    try:
        for _ in range(100):
            try:
                get(listen)
                break
            except OSError:
                time.sleep(0.05)
        check("forwards unchanged", get(listen) == (200, get(listen)[1], BODY))
        rules([{"mode": "rewrite", "value": "NaN"}])
        check("rewrite puts NaN in the sample", b'"NaN"' in get(listen)[2])
        rules([{"mode": "garble", "every": 5}])
        g = get(listen)[2]
        check("garble keeps the length and breaks the JSON", len(g) == len(BODY) and g != BODY)
        rules([{"mode": "truncate"}])
        check("truncate sends half the body, then closes", get(listen)[2] == b"INCOMPLETE:" + BODY[: len(BODY) // 2])
        rules([{"mode": "status", "code": 429, "retry_after_s": 3}])
        s, h, b = get(listen)
        check("429 with Retry-After and a Status", s == 429 and h.get("Retry-After") == "3" and json.loads(b)["code"] == 429)
        rules([{"mode": "status", "code": 503, "path": "^/other"}])
        check("a rule for another path leaves this one alone", get(listen)[0] == 200)
        rules([{"mode": "latency", "delay_s": 0.6}])
        t = time.time()
        get(listen)
        check("latency delays the answer", time.time() - t >= 0.6)
        rules([{"mode": "cut", "watch": True, "after_bytes": 100}])
        check("cut leaves a plain request alone", get(listen)[2] == BODY)
        w = get(listen, "/api/v1/pods?watch=1")[2]
        check("cut ends a watch mid-event after 100 bytes", w.startswith(b"INCOMPLETE:") and len(w) - 11 == 100
              and not w.endswith(b"\n"))
        rules([])
        check("no rules: the whole stream", get(listen, "/api/v1/pods?watch=1")[2] == b"".join(LINES))
        c = http.client.HTTPConnection("127.0.0.1", control, timeout=5)
        c.request("GET", "/stats")
        stats = json.loads(c.getresponse().read())["stats"]
        check("stats count each mode", all(stats.get(m, 0) >= 1 for m in ("rewrite", "garble", "truncate", "status", "latency", "cut")))
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=5)
            check("stops on SIGTERM", True)
        except subprocess.TimeoutExpired:
            proxy.kill()
            check("stops on SIGTERM", False)
        up.shutdown()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
