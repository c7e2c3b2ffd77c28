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
from .. import _core
from .certify import bound_of
from .model import FREE, for_solver


NODE_STOP = barrier.Stop(rtol=1e-8)  # a child's barrier gap (the root's is barrier.RTOL): fewer Newton steps, bound
                                     # within 5e-9


@dataclass
class Instance:
    """A network as the search sees it: its weights (certification), the solver's form of them, the factor per
    hidden layer that takes the solver's multipliers back and the one that takes its rho back (`model.for_solver`),
    and the core's copies of both weight lists with the solver's layers' spectral norms (`_core.sdp_node`)."""
    weights: List[np.ndarray]
    solving: List[np.ndarray]
    scale: np.ndarray
    rho_scale: float
    core: _core.Net = field(init=False, repr=False)
    solving_core: _core.Net = field(init=False, repr=False)
    norms: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.core, self.solving_core = _core.Net(list(self.weights)), _core.Net(list(self.solving))
        self.norms = barrier.spectral_norms(self.solving)

    @classmethod
    def of(cls, weights: List[np.ndarray]) -> "Instance":
        return cls(weights, *for_solver(weights))


@dataclass
class Free:
    """A node's free neurons in the solver's model: (hidden layer, row) each as two vectors in z order, their
    z-coordinates and their pre-activations as rows over z (for `branching_neuron`)."""
    layer: np.ndarray
    row: np.ndarray
    index: np.ndarray
    rows: np.ndarray

    def neuron(self, j: int) -> Tuple[int, int]:
        return int(self.layer[j]), int(self.row[j])


@dataclass(order=True)
class Node:
    key: float                                          # -bound: heapq pops the largest bound first
    seq: int
    net: Instance = field(compare=False)
    slopes: List[np.ndarray] = field(compare=False)
    free: Free = field(compare=False)
    solution: Optional[barrier.Solution] = field(compare=False)   # None: no multipliers found (kept as is)

    @property
    def bound(self) -> float:
        return -self.key


def _target(net: Instance, below: float) -> float:
    """The solver's rho under which its iterate proves a bound below `below` (on the original weights)."""
    if not (below > 0.0 and math.isfinite(below) and 0.0 < net.rho_scale < math.inf):
        return -math.inf
    return (below * below / net.rho_scale) * (1.0 - barrier.TARGET_MARGIN)


def evaluate(net: Instance, slopes: List[np.ndarray], deadline: float, parent: Optional[Node] = None,
             stop: barrier.Stop = barrier.Stop(), below: float = -math.inf) -> Tuple[Free, Optional[barrier.Solution], float]:
    """The node's free neurons in the solver's model, its solution and the bound certified on the original
    weights (no solution when every slope is fixed: then rho = ||J||^2 needs no multipliers, or when no strictly
    feasible start exists: bound inf). The path starts from `parent`'s warm point where its free neurons include the
    node's, else from the layer start. `below`: a caller that prunes at this value (a lower bound on L) lets the path
    stop once it proves a bound under it, or finds its value above it to stop.coarse_rtol. One core call
    (`_core.sdp_node`), which settles the slopes first (`model.build`'s docstring)."""
    warm = None
    if parent is not None and parent.solution is not None:
        w = parent.solution.warm
        warm = (parent.free.layer, parent.free.row, w.rho, w.t, w.mu)
    out = _core.sdp_node(net.core, net.solving_core, net.scale, net.norms, list(slopes), warm,
                         **barrier.path_options(stop, _target(net, below), deadline))
    free = Free(out["layer"], out["row"], out["index"].astype(np.intp), out["rows"])
    rho = out["rho"]
    bound = math.inf if math.isnan(rho) else bound_of(rho)
    return free, (barrier.solution_of(out) if out["solved"] else None), bound


def branching_neuron(model: Free, dual: np.ndarray) -> int:
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
    free, solution, bound = evaluate(net, slopes, deadline)  # one core call: numpy's BLAS takes no part
    return Node(-bound, 0, net, slopes, free, solution)


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
        neuron = node.free.neuron(branching_neuron(node.free, node.solution.dual))
        children = []
        for value in (0, 1):
            child = _child(node.slopes, neuron, value)
            cfree, csol, cbound = evaluate(root.net, child, deadline, node, NODE_STOP, lower())
            children.append(Node(-min(cbound, node.bound), next(count), root.net, child, cfree, csol))
            nodes += 1
        for c in children:
            heapq.heappush(heap, c)
        offer_upper(max(-heap[0].key, closed))
    upper = max(-heap[0].key if heap else 0.0, closed, 0.0)   # no leaf left: every pattern closed or empty
    offer_upper(upper)
    complete = not heap or all(n.bound <= lower() or is_exact(lower(), n.bound) for n in heap)
    return complete, f"LipSDP branch-and-bound: {nodes} nodes, upper {upper:.6g}"
