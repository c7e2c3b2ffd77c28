"""Published exact values (LipBaB, ExLipBaB; tests/data/reference.json, copied from the shared manifest)."""
import json
import math
import os

import numpy as np
import pytest

from lipmiq import Box, Global, lipschitz, load

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "reference.json")) as fh:
    QUERIES = json.load(fh)["queries"]


def domain_of(spec):
    if spec == "global":
        return Global()
    return Box(*spec["box"])


def ids(q):
    return f"{q['network']}-{q['domain'] if q['domain'] == 'global' else 'box'}-p{q['p']}"


LIPBAB = [q for q in QUERIES if q["network"].startswith("lipbab_")]
GLOBAL = [q for q in QUERIES if q["domain"] == "global"]


@pytest.mark.parametrize("query", LIPBAB, ids=ids)
def test_cheap_bounds_bracket_published_values(query):
    net = load(os.path.join(DATA, query["network"] + ".npz"))
    dom = domain_of(query["domain"])
    exact = query["exact"]
    naive = lipschitz(net, dom, query["p"], query["q"], method="naive")
    sample = lipschitz(net, dom, query["p"], query["q"], method="sample", time_limit=3)
    # published values are rounded to 4 decimals
    assert sample.lower <= exact * (1 + 1e-4)
    assert naive.upper >= exact * (1 - 1e-4)
    assert sample.lower > 0.5 * exact


@pytest.mark.parametrize("query", LIPBAB + GLOBAL, ids=ids)
def test_miqcqp_certifies_published_exact_values(query):
    net = load(os.path.join(DATA, query["network"] + ".npz"))
    res = lipschitz(net, domain_of(query["domain"]), query["p"], query["q"], time_limit=120)
    assert res.exact, res
    assert res.upper == pytest.approx(query["exact"], rel=1e-4)
