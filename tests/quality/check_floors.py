#!/usr/bin/python3
"""Compare an eval-kit result against its floors; exit 1 when anything is below its floor.

  check_floors.py RESULTS.json FLOORS.json               run_eval.py's results.json
  check_floors.py --realworld RESULTS_RW.json FLOORS.json  run_rw.py's results_rw.json

floors.json (run_eval): {"exclude": [doc names not scored by the gate], "floors": {"overall": x,
"text": x, ...}, "by_producer": {"PRODUCER": {"text": x, ...}}}. Metric names are the kit's
aggregate.macro keys (by_producer: the keys of aggregate.by_producer.PRODUCER), plus "overall"; a
producer's "mean" is the mean of its metrics, the kit's per-producer OVERALL.
floors_rw.json: {"floors": {"head_f1": x, "depth": x, "cover": x}, "ceilings": {"leak_rate": x}}
(keys of results_rw.json's aggregate); a failed document always fails the gate."""
import json
import sys


def check(rows):
    """rows: (name, value, bound, is_floor). Prints a table; returns the names out of bounds."""
    bad = []
    print(f"{'metric':<28} {'value':>7} {'bound':>7}")
    for name, value, bound, is_floor in rows:
        value = 0.0 if value is None else value
        ok = value >= bound if is_floor else value <= bound
        kind = "floor" if is_floor else "ceiling"
        print(f"{name:<28} {value:7.3f} {bound:7.3f}{'' if ok else f'  <-- beyond its {kind}'}")
        if not ok:
            bad.append(name)
    return bad


def run_eval_rows(agg, floors):
    rows = []
    for metric, floor in floors.get("floors", {}).items():
        value = agg["overall"] if metric == "overall" else agg["macro"].get(metric)
        rows.append((metric, value, floor, True))
    for producer, metrics in floors.get("by_producer", {}).items():
        got = agg.get("by_producer", {}).get(producer)
        if got is None:
            rows.append((f"{producer} (missing)", 0.0, 1.0, True))
            continue
        values = [v for k, v in got.items() if k != "docs" and isinstance(v, (int, float))]
        for metric, floor in metrics.items():
            value = sum(values) / len(values) if metric == "mean" else got.get(metric)
            rows.append((f"{producer}.{metric}", value, floor, True))
    return rows


def main(argv):
    realworld = argv[:1] == ["--realworld"]
    if realworld:
        argv = argv[1:]
    results, floors = json.load(open(argv[0])), json.load(open(argv[1]))
    agg = results["aggregate"]
    if realworld:
        rows = [(k, agg.get(k), v, True) for k, v in floors.get("floors", {}).items()]
        rows += [(k, agg.get(k), v, False) for k, v in floors.get("ceilings", {}).items()]
        failed = len(agg.get("failed", []))
        speed = f"pages/s {agg.get('pages_per_s')}, peak RSS {agg.get('max_rss_mb')} MB"
    else:
        rows = run_eval_rows(agg, floors)
        failed = agg.get("n_failed", 0)
        s = results.get("speed", {}).get("summary", {})
        speed = f"pages/s {s.get('pages_per_s')}, peak RSS {s.get('max_rss_mb')} MB" if s else ""
    bad = check(rows)
    if failed:
        print(f"{failed} document(s) failed to convert")
        bad.append("failed_documents")
    if speed:
        print(speed)
    if bad:
        print("quality gate FAILED: " + ", ".join(bad))
        return 1
    print("quality gate passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
