#!/usr/bin/env python3
"""Records every spec.replicas value the API server holds for the Deployments of one namespace, as
the API server sees it (list, then watch; relists after any failure, so a change made while the
watch was down is still recorded). One JSON line per change: {"t": unix seconds, "name", "replicas"}.
Talks to the API server directly (not through the fault proxy). Stopped by PID."""
import argparse
import json
import ssl
import sys
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=3600)
    a = ap.parse_args()
    ctx = ssl._create_unverified_context()
    base = "%s/apis/apps/v1/namespaces/%s/deployments" % (a.server, a.namespace)
    hdr = {"Authorization": "Bearer " + a.token}
    seen = {}
    end = time.time() + a.max_seconds
    out = open(a.out, "a", buffering=1)

    def note(obj):
        name = obj["metadata"]["name"]
        r = obj.get("spec", {}).get("replicas")
        if seen.get(name) != r:
            seen[name] = r
            out.write(json.dumps({"t": round(time.time(), 3), "name": name, "replicas": r}) + "\n")

    while time.time() < end:
        try:
            with urllib.request.urlopen(urllib.request.Request(base, headers=hdr), context=ctx, timeout=10) as r:
                lst = json.load(r)
            for item in lst["items"]:
                note(item)
            rv = lst["metadata"]["resourceVersion"]
            url = base + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion=" + rv
            with urllib.request.urlopen(urllib.request.Request(url, headers=hdr), context=ctx, timeout=90) as w:
                for line in w:
                    ev = json.loads(line)
                    if ev["type"] == "ERROR":
                        break
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        note(ev["object"])
        except Exception as e:  # the API server down, etcd down: relist when it is back
            print("recorder: %s" % e, file=sys.stderr, flush=True)
            time.sleep(0.5)


if __name__ == "__main__":
    main()
