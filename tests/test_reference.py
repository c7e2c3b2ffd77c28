"""Published exact values (LipBaB, ExLipBaB; tests/data/reference.json, copied from the shared manifest)."""
import pytest
from conftest import DATA_DIR, REFERENCE, STAGES
from lipmiq import Box, Global, lipschitz, load


def domain_of(spec):
    if spec == "global":
        return Global()
    return Box(*spec["box"])


def ids(q):
    return f"{q['network']}-{q['domain'] if q['domain'] == 'global' else 'box'}-p{q['p']}"


LIPBAB = [q for q in REFERENCE if q["network"].startswith("lipbab_")]
GLOBAL = [q for q in REFERENCE if q["domain"] == "global"]


@pytest.mark.parametrize("query", LIPBAB, ids=ids)
def test_cheap_bounds_bracket_published_values(query):
    net = load(str(DATA_DIR / (query["network"] + ".npz")))
    dom = domain_of(query["domain"])
    exact = query["exact"]
    naive = lipschitz(net, dom, query["p"], query["q"], method="naive")
    sample = lipschitz(net, dom, query["p"], query["q"], method="sample", time_limit=3)
    # published values are rounded to 4 decimals
    assert sample.lower <= exact * (1 + 1e-4)
    assert naive.upper >= exact * (1 - 1e-4)
    assert sample.lower > 0.5 * exact


# Every query twice: the default pipeline (whose region branch-and-bound closes all of them in about a
# second) and SCIP's MIQCQP alone (region_share=0), so the formulation stays tested on published values.
# Known gap of the SCIP-only path: on exlipbab_wine_11-12-12-1 (global, l2) SCIP's dual bound stalls at
# 1.7719 (> L = 1.7434) from the root on; the lower bound is exact within a second. Kept sound and
# strict: when the gap closes this test fails and the mark must go.
SCIP_ONLY_GAPS = {"exlipbab_wine_11-12-12-1"}


def _cases():
    for query in LIPBAB + GLOBAL:
        for stage in STAGES:
            marks = []
            if stage == "scip" and query["network"] in SCIP_ONLY_GAPS:
                # strict=True repeats pyproject's xfail_strict for runs of a copied tests/ without it
                marks = [pytest.mark.xfail(strict=True, reason="SCIP's dual bound stalls above L")]
            yield pytest.param(query, stage, marks=marks, id=f"{ids(query)}-{stage}")


@pytest.mark.parametrize("query,stage", list(_cases()))
def test_miqcqp_certifies_published_exact_values(query, stage):
    net = load(str(DATA_DIR / (query["network"] + ".npz")))
    gap = stage == "scip" and query["network"] in SCIP_ONLY_GAPS
    limit = 30 if gap else 300  # wall clock: generous for a loaded CI machine
    res = lipschitz(net, domain_of(query["domain"]), query["p"], query["q"], time_limit=limit, **STAGES[stage])
    # published values are rounded to 4 decimals (ExLipBaB's to full precision)
    assert res.lower <= query["exact"] * (1 + 1e-4) and res.upper >= query["exact"] * (1 - 1e-4), res
    assert res.exact, res
    assert res.upper == pytest.approx(query["exact"], rel=1e-4)
    # the default closes before SCIP (by the engine's branch-and-bound on the deeper networks; the engine's or
    # LipSDP's bound meets the hill climbs' lower bound on some queries)
    before_scip = ("gradient", "sdp", "climbs", "patterns", "bab", "regions")
    assert (res.stats["closed_by"] in before_scip) == (stage == "default"), res.stats
