#!/usr/bin/env python3
"""Pod discovery for Prometheus over its HTTP SD protocol, with the target labels that
kubernetes_sd_configs (role: pod) gives: Debian's Prometheus 2.42 is built without the Kubernetes
discovery, so this reads the pods of one namespace from the API server and serves them at
GET /sd as Prometheus' kubernetes_sd would — one target per declared container port (pod IP:port),
with __meta_kubernetes_namespace, _pod_name, _pod_ip, _pod_node_name, _pod_phase, _pod_ready,
_pod_label_<name> (non-alphanumerics as "_"), _pod_container_name, _pod_container_port_name and
_port_number — so the scrape config's relabelling is the one a cluster would use. Loopback only;
stopped by PID."""
import argparse
import http.server
import json
import re
import ssl
import urllib.request


def targets(a, ctx):
    req = urllib.request.Request(f"{a.server}/api/v1/namespaces/{a.namespace}/pods",
                                 headers={"Authorization": "Bearer " + open(a.token_file).read().strip()})
    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
        pods = json.loads(r.read())["items"]
    out = []
    for p in pods:
        meta, spec, status = p["metadata"], p.get("spec", {}), p.get("status", {})
        ip = status.get("podIP")
        if not ip:
            continue
        conds = {c["type"]: c["status"] for c in status.get("conditions") or []}
        base = {"__meta_kubernetes_namespace": meta.get("namespace", ""),
                "__meta_kubernetes_pod_name": meta["name"],
                "__meta_kubernetes_pod_ip": ip,
                "__meta_kubernetes_pod_node_name": spec.get("nodeName", ""),
                "__meta_kubernetes_pod_phase": status.get("phase", ""),
                "__meta_kubernetes_pod_ready": "true" if conds.get("Ready") == "True" else "false"}
        for k, v in (meta.get("labels") or {}).items():
            base["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
        for c in spec.get("containers", []):
            for port in c.get("ports") or []:
                labels = dict(base, __meta_kubernetes_pod_container_name=c["name"],
                              __meta_kubernetes_pod_container_port_name=port.get("name", ""),
                              __meta_kubernetes_pod_container_port_number=str(port["containerPort"]))
                out.append({"targets": [f"{ip}:{port['containerPort']}"], "labels": labels})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                body, code = json.dumps(targets(a, ctx)).encode(), 200
            except Exception as e:  # Prometheus keeps the last good list on an error
                body, code = json.dumps({"error": str(e)}).encode(), 503
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H).serve_forever()


if __name__ == "__main__":
    main()
