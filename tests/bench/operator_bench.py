#!/usr/bin/env python3
"""Measurements for tests/bench/operator_bench.sh, against the real API server as admin:

  reconciled N          waits (by watching, not polling) until N PDDeployments carry
                        status.observedGeneration == metadata.generation
  edits NAME TARGET     50 edits of NAME's workload.tokensPerMinute, alternating 8 M / 5 M, each
                        timed from the PATCH returning until TARGET's /scale shows the new count
  evaluations SECONDS SLOW  samples status.metrics.lastEvaluation of the PDDeployments labelled
                        bench=live once a second; prints the gaps between evaluations of the
                        others and of SLOW (the one whose Prometheus answers slowly)

Server and token come from $API_PORT and $ADMIN_TOKEN."""
import json
import os
import ssl
import statistics
import sys
import time
import urllib.request

BASE = f"https://127.0.0.1:{os.environ['API_PORT']}"
TOKEN = os.environ["ADMIN_TOKEN"]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
PDDS = "/apis/pdscaler.io/v1alpha1/namespaces/default/pddeployments"


def request(method, path, body=None, timeout=30):
    req = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Content-Type", "application/merge-patch+json")
    return urllib.request.urlopen(req, context=CTX, timeout=timeout)


def call(method, path, body=None):
    with request(method, path, body) as r:
        return json.loads(r.read())


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def reconciled(want):
    t0 = time.monotonic()
    done = set()

    def note(obj):
        md, st = obj["metadata"], obj.get("status") or {}
        if st.get("observedGeneration") == md.get("generation"):
            done.add(md["name"])

    listed = call("GET", PDDS)
    for o in listed["items"]:
        note(o)
    rv = listed["metadata"]["resourceVersion"]
    while len(done) < want:
        with request("GET", f"{PDDS}?watch=1&resourceVersion={rv}&timeoutSeconds=30", timeout=60) as r:
            for line in r:
                ev = json.loads(line)
                if ev["type"] == "ERROR":
                    sys.exit(f"watch error: {ev['object']}")
                rv = ev["object"]["metadata"]["resourceVersion"]
                note(ev["object"])
                if len(done) >= want:
                    break
        if time.monotonic() - t0 > 600:
            sys.exit(f"only {len(done)} of {want} reconciled after 600 s")


def edits(name, target):
    scale = f"/apis/apps/v1/namespaces/default/deployments/{target}/scale"
    lat = []
    for i in range(50):
        tpm, want = (8000000, 5) if i % 2 == 0 else (5000000, 4)
        call("PATCH", f"{PDDS}/{name}", {"spec": {"workload": {"tokensPerMinute": tpm}}})
        t0 = time.monotonic()
        while call("GET", scale)["spec"]["replicas"] != want:
            if time.monotonic() - t0 > 30:
                sys.exit(f"edit {i}: no rescale within 30 s")
            time.sleep(0.002)
        lat.append(time.monotonic() - t0)
    print(f"edit-to-patch latency over {len(lat)} edits: p50 {statistics.median(lat) * 1000:.1f} ms, "
          f"p99 {quantile(lat, 0.99) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms")


def evaluations(seconds, slow):
    seen = {}  # name -> list of distinct lastEvaluation stamps, in order
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for o in call("GET", f"{PDDS}?labelSelector=bench%3Dlive")["items"]:
            stamp = ((o.get("status") or {}).get("metrics") or {}).get("lastEvaluation")
            if stamp:
                stamps = seen.setdefault(o["metadata"]["name"], [])
                if not stamps or stamps[-1] != stamp:
                    stamps.append(stamp)
        time.sleep(1)

    def gaps(stamps):
        ts = [time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) for s in stamps]
        return [b - a for a, b in zip(ts, ts[1:])]

    others = [g for n, s in seen.items() if n != slow for g in gaps(s[1:])]  # the first gap may start before the window
    mine = gaps(seen.get(slow, [])[1:])
    counts = sorted(len(s) for n, s in seen.items() if n != slow)
    if not others:
        print(f"evaluations over {seconds} s: none of the others was evaluated twice (evaluations per PDDeployment: {counts})")
        return
    print(f"evaluations over {seconds} s, interval 5 s: the {len(seen) - (slow in seen)} others: gap median "
          f"{statistics.median(others):.0f} s, p90 {quantile(others, 0.9):.0f} s, max {max(others):.0f} s "
          f"({counts[0]}-{counts[-1]} evaluations each); {slow} (Prometheus answering in 5 s): "
          + (f"gap median {statistics.median(mine):.0f} s" if mine else f"{len(seen.get(slow, []))} evaluations"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "reconciled":
        reconciled(int(sys.argv[2]))
    elif cmd == "edits":
        edits(sys.argv[2], sys.argv[3])
    elif cmd == "evaluations":
        evaluations(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
