"""The default pipeline's data flow: the root bounds of a query are computed once and shared by every
stage (subtrees and LP tightening refine them with priors, which are not root computations)."""
import lipmiq
import numpy as np
import pytest
from lipmiq import Box, Network, _core, lipschitz
from netgen import random_net


@pytest.mark.parametrize("options", [{}, {"region_share": 0.0}, {"region_share": 0.0, "tighten": "symbolic"}])
def test_root_bounds_computed_once(monkeypatch, options):
    weights, biases = random_net(3, [4, 8, 8, 6, 2])
    net = Network(weights, biases)
    calls = []
    original = _core.symbolic_bounds

    def counting(core_net, lo, hi, center=None, radius=0.0, norm=np.inf, prior=None):
        if prior is None:
            calls.append(len(core_net.sizes) - 1)
        return original(core_net, lo, hi, center, radius, norm, prior)

    monkeypatch.setattr(lipmiq._core, "symbolic_bounds", counting)
    res = lipschitz(net, Box(-1, 1), p=2, q=2, time_limit=20, **options)
    assert res.lower > 0 and res.upper < np.inf
    assert calls == [len(weights)], calls  # one root computation, on the problem's network
