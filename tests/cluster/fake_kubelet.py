#!/usr/bin/env python3
"""A stand-in for the kubelets of fake GPU nodes (as KWOK does): pods the scheduler bound to one of
our nodes are marked Running and Ready after a start-up delay (the emulated cold start), and pods
being deleted are removed at once. Polls the real API server; stops on SIGTERM."""
import argparse
import datetime
import json
import signal
import ssl
import sys
import time
import urllib.request

stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--node-prefix", default="gpu-node-")
    ap.add_argument("--startup-delay", type=float, default=0.0, help="seconds from binding to Ready")
    ap.add_argument("--interval", type=float, default=0.25)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    first_seen = {}

    def call(method, path, body=None, ctype="application/merge-patch+json"):
        req = urllib.request.Request(args.server + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", "Bearer " + args.token)
        if body is not None:
            req.add_header("Content-Type", ctype)
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    while not stop:
        try:
            pods = call("GET", "/api/v1/pods")["items"]
            now = time.time()
            for p in pods:
                node = p["spec"].get("nodeName", "")
                if not node.startswith(args.node_prefix):
                    continue
                ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
                if p["metadata"].get("deletionTimestamp"):
                    call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}",
                         {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
                         "application/json")
                    continue
                ready = any(c["type"] == "Ready" and c["status"] == "True"
                            for c in p.get("status", {}).get("conditions", []))
                if ready:
                    continue
                uid = p["metadata"]["uid"]
                first_seen.setdefault(uid, now)
                if now - first_seen[uid] < args.startup_delay:
                    continue
                stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
                conds = [{"type": t, "status": "True", "lastTransitionTime": stamp}
                         for t in ("Initialized", "PodScheduled", "ContainersReady", "Ready")]
                statuses = [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                             "ready": True, "restartCount": 0, "started": True,
                             "state": {"running": {"startedAt": stamp}}}
                            for c in p["spec"]["containers"]]
                call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                     {"status": {"phase": "Running", "conditions": conds, "startTime": stamp,
                                 "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                                 "containerStatuses": statuses}})
        except Exception as e:  # the API server may be down on purpose (restart scenario)
            print(f"fake-kubelet: {e}", file=sys.stderr)
            time.sleep(1)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
