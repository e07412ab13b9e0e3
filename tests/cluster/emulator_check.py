#!/usr/bin/env python3
"""Checks that the vLLM emulator queues as it claims: with a fake clock, 2000 emulated seconds at
5 M tokens/min (6144/512 tokens) on 4 prefill instances, each instance is an M/D/1 queue, so the
mean TTFT must be S + rho*S/(2(1-rho)) + overhead (Pollaczek-Khinchine with fixed service S), and
the arrival rate the one asked for. Prints the figures; exits 1 if either is off by more than 5%."""
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vllm_emulator as emulator  # noqa: E402

clock = [1000.0]
emulator.time.monotonic = lambda: clock[0]
a = types.SimpleNamespace(input_length=6144, output_length=512, max_throughput=28300, overhead=0.1,
                          tpot_table=[(1, 0.009), (16, 0.014), (34, 0.020), (64, 0.031)],
                          steps=[(0, 5e6)], seed=1, model="m", prefix_hit_rate=0.0)
fleet = emulator.Fleet(a)
fleet.ready = {"prefill": 4, "decode": 4}
seconds, dt = 2000, 0.1
for _ in range(int(seconds / dt)):
    clock[0] += dt
    fleet.step(dt)

rate = 5e6 / 60 / (6144 + 512)
service = 6144 / 28300
rho = rate / 4 * service
expected_ttft = service + rho * service / (2 * (1 - rho)) + 0.1
ttft = fleet.ttft.sum / fleet.ttft.count
arrivals = fleet.ttft.count / seconds
print(f"arrivals {arrivals:.3f}/s (asked {rate:.3f}); utilisation {rho:.3f}; "
      f"mean TTFT {ttft:.4f} s, M/D/1 gives {expected_ttft:.4f} s (M/M/1 would give {1 / (1 / service - rate / 4) + 0.1:.4f} s)")
ok = abs(ttft / expected_ttft - 1) < 0.05 and abs(arrivals / rate - 1) < 0.05
sys.exit(0 if ok else 1)
