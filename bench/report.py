"""Benchmark report: JSON lines of bench/run.py -> Markdown tables and PNG plots.

Tables: rows are queries, columns are methods, cells are `lower / upper / time` (best upper of the row in
bold, a check mark when the method certified the exact value), with the manifest's reference values.
Plots (matplotlib): certified bounds against time for one query across methods (from `history`), and time
to exact against network size for the scaling series (runs that did not finish are drawn hollow at their
time limit).

    python bench/report.py results.jsonl [more.jsonl ...] --plots bench/ --readme bench/README.md
"""
from __future__ import annotations

import argparse
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

START, END = "<!-- results:start -->", "<!-- results:end -->"
FAILED = {"crash": "crash", "killed": "killed", "unsupported": "n/a", "error": "error"}


def load_lines(paths: List[Path]) -> List[dict]:
    """Every record of the files; a later record of the same (query, method, time limit) replaces an earlier one."""
    records: "OrderedDict[Tuple[str, str, float], dict]" = OrderedDict()
    for path in paths:
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"report.py: {path}:{n}: not a JSON line ({exc})") from None
            records[(rec["id"], method_label(rec), rec.get("time_limit"))] = rec
    return list(records.values())


def upper_of(rec: dict) -> float:
    value = rec.get("upper", "inf")
    return math.inf if value in ("inf", None) else float(value)


def _fmt(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.6g}"


def cell(rec: Optional[dict], best_upper: float) -> str:
    if rec is None:
        return ""
    if rec["status"] in FAILED:
        return FAILED[rec["status"]]
    upper = upper_of(rec)
    up = _fmt(upper)
    if math.isfinite(upper) and upper <= best_upper * (1 + 1e-7):  # ties up to solver tolerances
        up = f"**{up}**"
    mark = " ✓" if rec.get("exact") else ""
    time_s = rec.get("time_s") if rec.get("time_s") is not None else rec.get("wall_s", 0.0)
    return f"{_fmt(float(rec.get('lower', 0.0)))} / {up} / {time_s:.1f} s{mark}"


def method_label(rec: dict) -> str:
    """The method, with the options it ran with (e.g. `miqcqp[region_share=0]`): one column per variant."""
    options = rec.get("options") or {}
    if not options:
        return rec["method"]
    return rec["method"] + "[" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) + "]"


def reference_text(rec: dict) -> str:
    ref, others = rec.get("reference"), rec.get("others") or {}
    parts = []
    if ref:
        parts.append(f"{ref['kind']} {ref['value']:.6g}")
    for name in ("LipSDP", "LiPopt", "naive_product"):
        if name in others and not (ref and name == "LipSDP" and abs(others[name] - ref["value"]) < 1e-12):
            parts.append(f"{name} {others[name]:.6g}")
    return "; ".join(parts)


def table(records: List[dict]) -> str:
    """The Markdown table of these records (rows: queries, columns: methods, or method @ time limit)."""
    several_limits = len({r.get("time_limit") for r in records}) > 1

    def column(r: dict) -> str:
        return f"{method_label(r)} @{r['time_limit']:g}s" if several_limits else method_label(r)

    methods = list(OrderedDict.fromkeys(column(r) for r in records))
    rows: "OrderedDict[str, Dict[str, dict]]" = OrderedDict()
    for r in records:
        rows.setdefault(r["id"], {})[column(r)] = r
    with_ref = any(reference_text(r) for r in records)
    head = ["query"] + (["reference (published)"] if with_ref else []) + methods
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for qid, by_method in rows.items():
        ok = [upper_of(r) for r in by_method.values() if r["status"] not in FAILED]
        best = min(ok) if ok else math.inf
        first = next(iter(by_method.values()))
        cells = [f"`{qid}`"] + ([reference_text(first)] if with_ref else [])
        cells += [cell(by_method.get(m), best) for m in methods]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def hidden_neurons(rec: dict) -> int:
    return int(sum(rec["sizes"][1:-1]))


def scaling_summary(records: List[dict]) -> str:
    """Per series axis, method and norm: the largest network certified exact within the time limit."""
    lines = []
    groups: "OrderedDict[Tuple[str, str, str], List[dict]]" = OrderedDict()
    for r in records:
        if r["kind"] == "series":
            groups.setdefault((r["axis"], method_label(r), r["p"]), []).append(r)
    for (axis, method, p), recs in groups.items():
        exact = [r for r in recs if r.get("exact")]
        limit = recs[0]["time_limit"]
        if exact:
            top = max(exact, key=hidden_neurons)
            lines.append(f"- {axis} series, `{method}`, p = q = {p}: largest exact within {limit:g} s: "
                         f"{'-'.join(map(str, top['sizes']))} ({top['time_s']:.1f} s); "
                         f"{len(exact)} of {len(recs)} sizes exact")
        else:
            lines.append(f"- {axis} series, `{method}`, p = q = {p}: no size exact within {limit:g} s")
    return "\n".join(lines)


def markdown(records: List[dict]) -> str:
    queries = [r for r in records if r["kind"] != "series"]
    series = [r for r in records if r["kind"] == "series"]
    parts = []
    if queries:
        parts += ["Cells: certified lower / upper / time (✓: exact; best upper in bold; n/a: query not supported).", "",
                  table(queries), ""]
    if series:
        parts += ["Scaling series (random He-initialised networks on the box [-1, 1]^n):", "",
                  scaling_summary(series), "", table(series), ""]
    against = anchor_table(records)
    if against:
        parts += ["Against the anchors of the manifest (other tools' upper bounds measured on this kind of machine):",
                  "", against, ""]
    return "\n".join(parts)


# --- plots ------------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bounds(records: List[dict], query: str, path: Path) -> Path:
    """Certified lower (dashed) and upper (solid) bounds against time, one colour per method."""
    plt = _pyplot()
    recs = [r for r in records if r["id"] == query and r.get("history")]
    if not recs:
        raise SystemExit(f"report.py: no bound history for query {query!r}")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    finite = [h[2] for r in recs for h in r["history"] if h[2] not in ("inf", None) and math.isfinite(h[2])]
    lows = [h[1] for r in recs for h in r["history"] if h[1] > 0]
    several_limits = len({r.get("time_limit") for r in recs}) > 1
    for i, r in enumerate(recs):
        color = f"C{i}"
        name = f"{method_label(r)} @{r['time_limit']:g}s" if several_limits else method_label(r)
        end = max(float(r.get("time_s") or r["history"][-1][0]), r["history"][-1][0], 1e-3)
        ts = [max(h[0], 1e-3) for h in r["history"]] + [end]
        lo = [h[1] for h in r["history"]] + [r["history"][-1][1]]
        up = [math.nan if h[2] in ("inf", None) or not math.isfinite(h[2]) else h[2] for h in r["history"]]
        up.append(up[-1])
        ax.step(ts, up, where="post", color=color, label=f"{name} upper")
        if any(v > 0 for v in lo):
            ax.step(ts, lo, where="post", color=color, linestyle="--", label=f"{name} lower")
    ref = recs[0].get("reference")
    if ref:
        ax.axhline(ref["value"], color="gray", linewidth=0.8, linestyle=":", label=f"published {ref['kind']}")
    if finite and lows:
        top = min(max(finite), 10.0 * min(finite))
        ax.set_ylim(0.9 * min(lows), 1.1 * top)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("certified bound")
    ax.set_title(query, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_scaling(records: List[dict], path: Path) -> Path:
    """Time to exact against hidden neurons, one line per (axis, method, norm); hollow = not exact in time."""
    plt = _pyplot()
    series = [r for r in records if r["kind"] == "series"]
    if not series:
        raise SystemExit("report.py: no series records to plot")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    groups: "OrderedDict[Tuple[str, str, str], List[dict]]" = OrderedDict()
    for r in series:
        groups.setdefault((r["axis"], method_label(r), r["p"]), []).append(r)
    for i, ((axis, method, p), recs) in enumerate(groups.items()):
        recs = sorted(recs, key=hidden_neurons)
        xs = [hidden_neurons(r) for r in recs]
        ys = [float(r["time_s"]) if r.get("exact") else float(r["time_limit"]) for r in recs]
        color, marker = f"C{i}", "o" if axis == "width" else "s"
        ax.plot(xs, ys, color=color, linewidth=1, label=f"{axis}, {method}, p=q={p}")
        for x, y, r in zip(xs, ys, recs):
            ax.plot([x], [y], marker=marker, color=color, markerfacecolor=color if r.get("exact") else "none")
    ax.set_yscale("log")
    ax.set_xlabel("hidden neurons")
    ax.set_ylabel("time to exact (s); hollow: not exact at the limit")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --- the anchors of the scale issue (manifest `others` given as dicts: frontier_*, digits28_*) ---------------

ANCHOR_NAMES = {"shi_et_al": "Shi et al.", "shi_et_al_bab_60s": "Shi et al. + BaB", "lipbab_60s": "LipBaB"}


def anchors(rec: dict) -> Dict[str, dict]:
    """Other tools' measured figures of the record's query (not lipmiq's own earlier runs)."""
    return {k: v for k, v in (rec.get("others") or {}).items() if isinstance(v, dict) and not k.startswith("lipmiq")}


def best_anchor(rec: dict) -> Tuple[str, float]:
    """(tool, upper) of the best anchor upper bound; an exact value where LipBaB finished counts as upper."""
    best = ("", math.inf)
    for name, fig in anchors(rec).items():
        if fig.get("upper") is not None and float(fig["upper"]) < best[1]:
            best = (ANCHOR_NAMES.get(name, name), float(fig["upper"]))
    ref = rec.get("reference") or {}
    if ref.get("kind") == "exact" and float(ref["value"]) < best[1]:
        best = ("exact", float(ref["value"]))
    return best


def first_below(rec: dict, value: float) -> float:
    """The first time the record's certified upper bound went below `value` (inf if never)."""
    for t, _, up in rec.get("history") or []:
        if up not in ("inf", None) and float(up) < value:
            return float(t)
    return math.inf


def anchor_table(records: List[dict], method: str = "miqcqp") -> str:
    """lipmiq (`method`) against every anchor figure, with the scale issue's three verdicts per query."""
    naive = {r["id"]: upper_of(r) for r in records if r["method"] == "naive" and r["status"] not in FAILED}
    rows = [r for r in records if r["method"] == method and anchors(r)]
    head = ["query", "unstable", "lipmiq lower / upper / time", "best anchor", "Shi et al. (no BaB)", "first < naive",
            "≤ anchor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    counts = {"anchor": [0, 0], "naive": [0, 0], "exact": [0, 0]}
    for r in rows:
        name, best = best_anchor(r)
        up = upper_of(r)
        ok = up <= best * (1 + 1e-9)
        counts["anchor"][0] += ok
        counts["anchor"][1] += 1
        shi = anchors(r).get("shi_et_al") or {}
        t_naive = first_below(r, naive[r["id"]]) if r["id"] in naive else math.nan
        scalar = r["sizes"][-1] == 1 or r.get("output") not in (None, "all")
        if shi.get("time_s") is not None and r["id"] in naive and scalar:
            counts["naive"][0] += t_naive <= float(shi["time_s"])
            counts["naive"][1] += 1
        unstable = r.get("interval_unstable")
        if unstable is not None and unstable <= 100:
            counts["exact"][0] += bool(r.get("exact"))
            counts["exact"][1] += 1
        time_s = r.get("time_s") if r.get("time_s") is not None else r.get("wall_s", 0.0)
        shi_text = f"{_fmt(float(shi['upper']))} in {shi['time_s']:.1f} s" if shi else ""
        lines.append(f"| `{r['id']}` | {'' if unstable is None else unstable} | "
                     f"{_fmt(float(r.get('lower', 0.0)))} / {_fmt(up)} / {time_s:.1f} s{' ✓' if r.get('exact') else ''} | "
                     f"{name} {_fmt(best)} | {shi_text} | "
                     f"{'' if math.isnan(t_naive) else ('never' if math.isinf(t_naive) else f'{t_naive:.2f} s')} | "
                     f"{'yes' if ok else 'no'} |")
    summary = [f"- upper bound at most the best anchor: {counts['anchor'][0]} of {counts['anchor'][1]} queries",
               f"- scalar queries whose first upper bound below the product of norms came no later than Shi et al.'s "
               f"time: {counts['naive'][0]} of {counts['naive'][1]}",
               f"- queries with at most 100 unstable neurons under interval bounds certified exact: "
               f"{counts['exact'][0]} of {counts['exact'][1]}"]
    return "\n".join(lines + [""] + summary) if rows else ""


def plot_anchors(records: List[dict], path: Path, method: str = "miqcqp") -> List[Path]:
    """Per network size, one panel per query: lipmiq's certified bounds against time, anchors as points."""
    plt = _pyplot()
    by_size: "OrderedDict[str, List[dict]]" = OrderedDict()
    for r in records:
        if r["method"] == method and anchors(r) and r.get("history"):
            by_size.setdefault("-".join(map(str, r["sizes"])), []).append(r)
    out = []
    for size, group in by_size.items():
        cols = min(len(group), 2)
        rows = math.ceil(len(group) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.0 * rows), squeeze=False)
        for ax in axes.flat[len(group):]:
            ax.set_visible(False)
        for ax, r in zip(axes.flat, group):
            _anchor_panel(ax, r)
        fig.tight_layout()
        target = path / f"anchors_{size}.png"
        fig.savefig(target, dpi=90)
        plt.close(fig)
        out.append(target)
    return out


def _anchor_panel(ax, r: dict) -> None:
    """One query's certified bounds against time, its anchors' upper bounds as points at their times."""
    hist = r["history"]
    ts = [max(h[0], 1e-3) for h in hist] + [max(float(r.get("time_s") or hist[-1][0]), hist[-1][0], 1e-3)]
    up = [math.nan if h[2] in ("inf", None) else float(h[2]) for h in hist]
    lo = [float(h[1]) for h in hist]
    ax.step(ts, up + up[-1:], where="post", color="C0", label="lipmiq upper")
    ax.step(ts, lo + lo[-1:], where="post", color="C0", linestyle="--", label="lipmiq lower")
    known = list(ANCHOR_NAMES)
    for name, fig_ in anchors(r).items():
        i = 1 + (known.index(name) if name in known else len(known))  # one colour and marker per tool
        if fig_.get("upper") is not None:
            ax.plot([max(float(fig_.get("time_s") or 60.0), 1e-3)], [float(fig_["upper"])], marker="o^sv"[i % 4],
                    linestyle="none", color=f"C{i}", label=f"{ANCHOR_NAMES.get(name, name)} upper")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("certified bound")
    ax.set_title(r["id"], fontsize=8)
    ax.legend(fontsize=7)


def update_readme(readme: Path, text: str) -> None:
    """Replace the block between the results markers of the README with `text`."""
    content = readme.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"report.py: {readme} lacks the markers {START} ... {END}")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", type=Path, help="JSON-lines files written by bench/run.py")
    ap.add_argument("--plots", type=Path, help="directory for the PNG plots (none without it)")
    ap.add_argument("--bound-query", help="query id of the bound-vs-time plot (default: the first with most methods)")
    ap.add_argument("--readme", type=Path, help="also write the tables into this README between the markers")
    args = ap.parse_args(argv)
    records = load_lines(args.results)
    text = markdown(records)
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
        with_history = [r for r in records if r.get("history") and r["kind"] != "series"]
        if with_history:
            counts: Dict[str, int] = {}
            for r in with_history:
                counts[r["id"]] = counts.get(r["id"], 0) + 1
            query = args.bound_query or max(counts, key=counts.get)
            png = plot_bounds(records, query, args.plots / "bounds_vs_time.png")
            text += f"\n![bounds vs time]({png.name})\n"
        if any(r["kind"] == "series" for r in records):
            png = plot_scaling(records, args.plots / "scaling.png")
            text += f"\n![time to exact vs size]({png.name})\n"
        for png in plot_anchors(records, args.plots):
            text += f"\n![bounds vs time against the anchors]({png.name})\n"
    if args.readme:
        update_readme(args.readme, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
