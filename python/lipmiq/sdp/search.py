"""Branch-and-bound on LipSDP: a node fixes the slopes of some neurons to 0 or 1, its bound is the
certified LipSDP bound of that slope set, and the upper bound is the largest bound over the leaves.

Every activation pattern the root allows has each neuron's slope in its set, so it lies in some leaf and
the leaves' maximum bounds L; fixing a slope only shrinks the set, so children never exceed their parent.
A child starts from its parent's path point with the fixed neuron's multiplier dropped, which stays
strictly feasible (the child's Z is a compression of the parent's)."""
from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np

from ..result import is_exact
from . import barrier
from .certify import certified_bound
from .model import FREE, SlopeModel, build, for_solver, settle


NODE_STOP = barrier.Stop(rtol=1e-8)  # a child's barrier gap (the root's is barrier.RTOL): fewer Newton steps, bound
                                     # within 5e-9


@dataclass
class Instance:
    """A network as the search sees it: its weights (certification), the solver's form of them, the factor per
    hidden layer that takes the solver's multipliers back and the one that takes its rho back (`model.for_solver`)."""
    weights: List[np.ndarray]
    solving: List[np.ndarray]
    scale: np.ndarray
    rho_scale: float

    @classmethod
    def of(cls, weights: List[np.ndarray]) -> "Instance":
        return cls(weights, *for_solver(weights))


@dataclass(order=True)
class Node:
    key: float                                          # -bound: heapq pops the largest bound first
    seq: int
    net: Instance = field(compare=False)
    slopes: List[np.ndarray] = field(compare=False)
    model: SlopeModel = field(compare=False)
    solution: Optional[barrier.Solution] = field(compare=False)   # None: no multipliers found (kept as is)

    @property
    def bound(self) -> float:
        return -self.key


def _warm(parent: Optional[Node], model: SlopeModel) -> Optional[barrier.Point]:
    """The parent's warm point restricted to the model's free neurons, when they are among the parent's: still
    strictly feasible in exact arithmetic, since fixing slopes compresses Z (the barrier checks it). None otherwise."""
    if parent is None or parent.solution is None:
        return None
    free = {neuron: j for j, neuron in enumerate(parent.model.neuron)}
    if not all(n in free for n in model.neuron):
        return None
    warm = parent.solution.warm
    return barrier.Point(warm.rho, warm.t[[free[n] for n in model.neuron]], warm.mu)


def _target(net: Instance, below: float) -> float:
    """The solver's rho under which its iterate proves a bound below `below` (on the original weights)."""
    if not (below > 0.0 and math.isfinite(below) and 0.0 < net.rho_scale < math.inf):
        return -math.inf
    return (below * below / net.rho_scale) * (1.0 - barrier.TARGET_MARGIN)


def evaluate(net: Instance, slopes: List[np.ndarray], deadline: float, parent: Optional[Node] = None,
             stop: barrier.Stop = barrier.Stop(), below: float = -math.inf) -> Tuple[SlopeModel, Optional[barrier.Solution], float]:
    """The model the barrier solved (in the solver's form), its solution and the bound certified on the
    original weights (no solution when every slope is fixed: then rho = ||J||^2 needs no multipliers, or
    when no strictly feasible start exists). The path starts from `parent`'s warm point where it fits, else from
    `barrier.start`. `below`: a caller that prunes at this value (a lower bound on L) lets the path stop once it
    proves a bound under it, or finds its value above it to stop.coarse_rtol."""
    slopes = settle(net.weights, slopes)
    model = build(net.weights, slopes)
    if model.index.size == 0:
        return model, None, certified_bound(model, np.zeros(0))
    solving = build(net.solving, slopes)
    target = _target(net, below)
    try:
        point = _warm(parent, solving)
        solution = None if point is None else barrier.solve(solving, point, deadline, stop, target)
        if solution is None:
            solution = barrier.solve(solving, barrier.start(net.solving, solving), deadline, stop, target)
        if solution is None:  # not expected: start() passed the same test in the core
            raise ArithmeticError("LipSDP's start is not strictly feasible")
    except ArithmeticError:
        return solving, None, math.inf
    layer = np.array([k for k, _ in solving.neuron], dtype=np.intp)
    return solving, solution, certified_bound(model, solution.point.t * net.scale[layer])


def branching_neuron(model: SlopeModel, dual: np.ndarray) -> int:
    """The free neuron whose dual moments are farthest from both fixings: E v^2 (slope 0) and
    E (u - v)^2 (slope 1) under the dual matrix, the smaller of the two."""
    Xw = dual @ model.rows.T
    vv = dual[model.index, model.index]
    uv = Xw[model.index, np.arange(model.index.size)]
    uu = np.einsum("ij,ji->i", model.rows, Xw)
    return int(np.argmax(np.minimum(vv, uu - 2.0 * uv + vv)))


def _child(slopes: List[np.ndarray], neuron: Tuple[int, int], value: int) -> List[np.ndarray]:
    out = [s.copy() for s in slopes]
    out[neuron[0]][neuron[1]] = value
    return out


def root(net: Instance, slopes: List[np.ndarray], deadline: float) -> Node:
    """The node of the slope set `slopes`, solved until the deadline."""
    with barrier.one_blas_thread():
        model, solution, bound = evaluate(net, slopes, deadline)
    return Node(-bound, 0, net, slopes, model, solution)


def branch_and_bound(root: Node, deadline: float, offer_upper: Callable[[float], None], lower: Callable[[], float],
                     leaf: Optional[Callable[[List[np.ndarray]], str]] = None) -> Tuple[bool, str]:
    """Best-first branch-and-bound from `root` until the deadline, offering each improved maximum over the
    leaves. `leaf` decides a slope set with every neuron fixed (one activation pattern): 'region' (it has
    one: its bound is then a closed value), 'empty' (proved to have none: dropped) or 'undecided'. Returns
    (complete, note): complete when every leaf is at most the lower bound or closed."""
    with barrier.one_blas_thread():
        return _search(root, deadline, offer_upper, lower, leaf)


def _search(root: Node, deadline: float, offer_upper: Callable[[float], None], lower: Callable[[], float],
            leaf: Optional[Callable[[List[np.ndarray]], str]]) -> Tuple[bool, str]:
    count = itertools.count(1)
    heap = [root]
    closed = -math.inf                             # the largest bound of a leaf below the lower bound, or closed
    nodes = 1
    while heap and time.perf_counter() < deadline:
        node = heapq.heappop(heap)
        if node.bound <= lower() or is_exact(lower(), node.bound):
            closed = max(closed, node.bound)
            continue
        if node.solution is None:                  # a single pattern (or no multipliers)
            if leaf is not None and all(np.all(s != FREE) for s in node.slopes):
                verdict = leaf(node.slopes)
                if verdict == "empty":
                    continue
                if verdict == "region":
                    closed = max(closed, node.bound)
                    continue
            heapq.heappush(heap, node)             # the largest leaf stays: no split can lower the maximum
            break
        neuron = node.model.neuron[branching_neuron(node.model, node.solution.dual)]
        children = []
        for value in (0, 1):
            child = _child(node.slopes, neuron, value)
            cmodel, csol, cbound = evaluate(root.net, child, deadline, node, NODE_STOP, lower())
            children.append(Node(-min(cbound, node.bound), next(count), root.net, child, cmodel, csol))
            nodes += 1
        for c in children:
            heapq.heappush(heap, c)
        offer_upper(max(-heap[0].key, closed))
    upper = max(-heap[0].key if heap else 0.0, closed, 0.0)   # no leaf left: every pattern closed or empty
    offer_upper(upper)
    complete = not heap or all(n.bound <= lower() or is_exact(lower(), n.bound) for n in heap)
    return complete, f"LipSDP branch-and-bound: {nodes} nodes, upper {upper:.6g}"
