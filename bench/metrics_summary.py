#!/usr/bin/env python3
"""Summarise the submit path's histograms from a /metrics text on stdin (bench/api_bench.sh --metrics).

Prints, per histogram: its count, its mean and the share of observations in each bucket, for the
submits per batch, the wait for the data-root sync of a submit batch, and the server-side latency
of POST /v1/convert/jobs.
"""
import re
import sys

WANTED = {  # histogram -> a label value its series must carry (None: any)
    "quire_submit_batch_size": None,
    "quire_data_sync_seconds": 'for="submit"',
    "quire_http_request_duration_seconds": 'route="/v1/convert/jobs"',
}

hist = {}
for line in sys.stdin:
    m = re.match(r'(\w+)_(bucket|sum|count)(?:\{(.*)\})? (\S+)$', line.strip())
    if not m or m.group(1) not in WANTED:
        continue
    name, part, labels, value = m.group(1), m.group(2), m.group(3) or "", float(m.group(4))
    if WANTED[name] and WANTED[name] not in labels:
        continue
    if name == "quire_http_request_duration_seconds" and 'method="POST"' not in labels:
        continue
    h = hist.setdefault(name, {"buckets": []})
    if part == "bucket":
        h["buckets"].append((re.search(r'le="([^"]+)"', labels).group(1), value))
    else:
        h[part] = value

for name, h in hist.items():
    n = h.get("count", 0)
    prev, shares = 0.0, []
    for le, c in h["buckets"]:
        if c > prev:
            shares.append(f"<={le} {100 * (c - prev) / max(n, 1):.0f}%")
        prev = c
    print(f"{name}: count {n:.0f}, mean {h.get('sum', 0) / max(n, 1):.4g}; " + ", ".join(shares))
