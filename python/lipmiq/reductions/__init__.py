"""Named reductions of a problem, each with its inverse, composed in a chain: the domain to a box
(homogenisation, the exclusion of 0 for bias-free networks), the network to the encoded `Plan` (stable
neurons, ties, margins, variable bounds), and exact rescalings for SCIP. The SCIP models are built from
the reduced plan only; solutions come back through `Chain` to the problem's coordinates."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from ..bounds import NetworkBounds, tightened
from ..domain import Ball, Global
from .chain import Chain, Reduction
from .domain import ExcludeOrigin, Homogenise
from .encode import HiddenLayer, Plan, encode
from .scaling import BalanceNeurons, ScaleOutput

if TYPE_CHECKING:  # the problem module builds its own reduction (FixInputs) from this package
    from ..problem import Problem

__all__ = ["Chain", "Reduction", "Plan", "HiddenLayer", "reduce", "for_scip"]


def reduce(problem: Problem, root: Optional[NetworkBounds], tighten: str, tighten_time: float,
           direction: Optional[np.ndarray] = None, deadline: float = math.inf) -> Tuple[Plan, Chain]:
    """The plan of a problem and the chain back to its coordinates. `root` (the problem's symbolic bounds,
    None on R^n) is reused by the tightening; `tighten` and its budget `tighten_time` pick the bounds;
    `direction` fixes v to one Jacobian column (monotonicity); past `deadline` it raises TimeUp."""
    net, dom = problem.network, problem.domain
    chain = Chain()
    ball = None
    if isinstance(dom, Global):
        hom = Homogenise(net)
        chain = chain.then(hom)
        network, box, exclusion, homogenised = hom.network, hom.box, hom.exclusion, hom.with_t
        bounds, _ = tightened(network, box, tighten, tighten_time)
        x_lo, x_hi = np.asarray(box.lo), np.asarray(box.hi)
    else:
        network, homogenised = net, False
        exclusion = ExcludeOrigin.radius(net, dom)
        if exclusion is not None:
            chain = chain.then(ExcludeOrigin(exclusion, dom))
        bounds, _ = tightened(net, dom, tighten, tighten_time, root=root)
        x_lo, x_hi = (np.asarray(a, dtype=np.float64) for a in dom.box_hull())
        if isinstance(dom, Ball) and not math.isinf(dom.norm):
            ball = (np.asarray(dom.center, dtype=np.float64), float(dom.radius), float(dom.norm))
    plan, fixed = encode(network, bounds, x_lo, x_hi, net.input_dim, problem.p, ball, exclusion, homogenised,
                         direction, exact_patterns=tighten_time if tighten == "lp" else 0.0, deadline=deadline)
    return plan, chain.then(fixed)


def for_scip(plan: Plan, chain: Chain, typical: float = 0.0) -> Tuple[Plan, Chain]:
    """The plan as SCIP sees it: neurons balanced and the output scaled by powers of two (exact); the chain
    gains their inverses (objective values are divided back)."""
    balance = BalanceNeurons()
    balanced = balance.apply(plan)
    scale = ScaleOutput(balanced, typical)
    return scale.apply(balanced), chain.then(balance).then(scale)
