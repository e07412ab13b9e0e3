"""Reads `pdscaler simulate -o json` on stdin; prints wall time, requests/s and events of the first policy."""
import json
import sys

p = json.load(sys.stdin)["policies"][0]
print(f'{p["wallSeconds"]:.4f} s, {p["requestsPerWallSecond"]:.0f} requests/s, {p["events"]} events')
