"""Time to certified exactness of the MIQCQP on the published reference queries.

Every manifest query with a known exact value, plus the digits_fnn2 networks (global l2, output 7,
compared with the published LipSDP bound). Prints lower, upper, gap, time and the reference value.

    python bench/bench_exact.py [--benchmarks ../shared/benchmarks] [--time-limit 60] [--only 'lipbab_*']
                                [--region-share 0]   # 0: SCIP's MIQCQP alone, without the region stage
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys

import lipmiq
from lipmiq import Box, Global

HERE = os.path.dirname(os.path.abspath(__file__))


def queries(manifest: dict, only: str):
    for net in manifest["networks"]:
        if not fnmatch.fnmatch(net["name"], only):
            continue
        for q in net["queries"]:
            ref = q.get("reference")
            if ref is None or (ref["kind"] != "exact" and not net["name"].startswith("digits_fnn2")):
                continue
            yield net, q, ref


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", default=os.path.join(HERE, os.pardir, os.pardir, "shared", "benchmarks"))
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--only", default="*", help="glob on network names")
    ap.add_argument("--encoding", default="quadratic")
    ap.add_argument("--tighten", default=None, help="bounds for the formulation (method default if omitted)")
    ap.add_argument("--region-share", type=float, default=None,
                    help="share of the time for the region branch-and-bound (method default if omitted; 0 skips it)")
    args = ap.parse_args(argv)
    with open(os.path.join(args.benchmarks, "manifest.json")) as fh:
        manifest = json.load(fh)
    options = {"encoding": args.encoding}
    if args.tighten:
        options["tighten"] = args.tighten
    if args.region_share is not None:
        options["region_share"] = args.region_share
    head = f"{'query':46s} {'lower':>12s} {'upper':>12s} {'gap':>9s} {'time s':>8s} {'reference':>12s} {'kind':>6s}  status"
    print(head)
    print("-" * len(head))
    for net, q, ref in queries(manifest, args.only):
        network = lipmiq.load(os.path.join(args.benchmarks, net["file"]))
        dom = Global() if q["domain"] == "global" else Box(*q["domain"]["box"])
        output = None if q["output"] == "all" else int(q["output"])
        res = lipmiq.lipschitz(network, dom, q["input_norm"], q["output_norm"], output=output,
                               time_limit=args.time_limit, **options)
        name = f"{net['name']} {'global' if q['domain'] == 'global' else 'box'} p={q['input_norm']}"
        print(f"{name:46s} {res.lower:12.6f} {res.upper:12.6f} {res.gap:9.2e} {res.time_s:8.2f} "
              f"{ref['value']:12.6f} {ref['kind']:>6s}  {res.status}{' exact' if res.exact else ''}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
