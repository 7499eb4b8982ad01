#!/usr/bin/python3
"""Compare an eval-kit results.json against floors.json; exit 1 when anything is below its floor.

floors.json: {"exclude": [doc names not scored by this gate], "floors": {"overall": x, "text": x, ...}}
Metric names are the kit's aggregate.macro keys, plus "overall"."""
import json
import sys


def main(results_path, floors_path):
    results = json.load(open(results_path))
    floors = json.load(open(floors_path))["floors"]
    agg = results["aggregate"]
    failed = agg.get("n_failed", 0)
    bad = []
    print(f"{'metric':<20} {'value':>7} {'floor':>7}")
    for metric, floor in floors.items():
        value = agg["overall"] if metric == "overall" else agg["macro"].get(metric)
        value = 0.0 if value is None else value
        mark = "" if value >= floor else "  <-- below floor"
        print(f"{metric:<20} {value:7.3f} {floor:7.3f}{mark}")
        if value < floor:
            bad.append(metric)
    if failed:
        print(f"{failed} document(s) failed to convert")
        bad.append("failed_documents")
    speed = results.get("speed", {}).get("summary", {})
    if speed:
        print(f"pages/s {speed.get('pages_per_s')}, peak RSS {speed.get('max_rss_mb')} MB")
    if bad:
        print("quality gate FAILED: " + ", ".join(bad))
        return 1
    print("quality gate passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
