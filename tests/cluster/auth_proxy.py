#!/usr/bin/env python3
"""A front for Prometheus: GET requests passed on to the upstream Prometheus, each on its own
thread. With --token-file it demands a bearer token, as kube-rbac-proxy or a managed Prometheus
does (401 without `Authorization: Bearer TOKEN`), and with --cert/--key it speaks TLS; with
--delay it answers only after that many seconds (a loaded Prometheus). Counts what it let
through and refused in --stats (one line: "ok N refused M"). Loopback only; stops on SIGTERM."""
import argparse
import http.server
import signal
import ssl
import threading
import time
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of Prometheus")
    ap.add_argument("--token-file", help="the accepted token (re-read on each request)")
    ap.add_argument("--cert", help="serve HTTPS with this certificate (and --key)")
    ap.add_argument("--key")
    ap.add_argument("--delay", type=float, default=0, help="seconds before each answer")
    ap.add_argument("--stats", help="file for the counts")
    a = ap.parse_args()
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()

    def count(what):
        with lock:
            counts[what] += 1
            if a.stats:
                with open(a.stats, "w") as f:
                    f.write(f"ok {counts['ok']} refused {counts['refused']}\n")

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            want = None
            if a.token_file:
                with open(a.token_file) as f:
                    want = "Bearer " + f.read().strip()
            if want is not None and self.headers.get("Authorization", "") != want:
                count("refused")
                body = b"Unauthorized\n"
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            count("ok")
            time.sleep(a.delay)
            try:
                with urllib.request.urlopen(a.upstream + self.path, timeout=10) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()


if __name__ == "__main__":
    main()
