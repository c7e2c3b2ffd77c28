"""Branch-and-bound on the gradient-bound engine (`bounds.gradient`): exact where it finishes, anytime otherwise.

A node is a partial activation pattern (the neurons split so far, each fixed to 0 or 1) on the problem's
domain. Its bound is the engine's certified bound on max ||J||_{p->q} over the regions with interior that agree
with the pattern; the engine's forward bounds of the parent are handed to the children (`prior`), and they also
say which neurons are stable on the node. Splitting a neuron fixes its Clarke derivative and its relu line,
which tightens both the forward and the backward bounds.

- **Upper bound** (offered to the tracker whenever it improves): the maximum of the open nodes' bounds, of
  the closed leaves' values, and of the bounds of the nodes pruned because they could not beat the certified
  lower bound. Every region with interior lies under exactly one of them (under one per branch of the vertex
  signs, SIGN_INPUTS, whose maximum is the region's norm), so this holds at any time.
- **Leaves.** A node whose every neuron is split or stable has one Jacobian J(g): the exact region LP
  (`certify.regions.region_point`) decides it. A region with interior gives a witness (certified lower bound)
  and contributes min(||J(g)|| with its rounding allowance, the node's bound); a region proved empty
  contributes nothing; an undecided (too thin) one stays open with that value, so the search can no longer
  finish exactly.
- **Empty nodes.** Before a node is split, its prefix region (`certify.partial`: the splits linear in x) and,
  from RELAXED_MIN_SPLITS splits after it, the triangle relaxation of all its splits (`certify.relaxed`; on
  networks with few inputs, while it pays: see the constants) are checked; a node either proves empty is
  dropped with its subtree.
- **Tightened nodes** (TIGHTEN_DEPTH, TIGHTEN_PERIOD): a deep node, the first time it is popped, gets its open
  neurons' bounds by LP over its triangle relaxation (`certify.relaxed.relaxed_bounds`) and the engine again on
  them; it returns to the heap with the smallest of its bounds, or is dropped when empty or dominated.
- **Branching** (measured on the frontier queries, l-inf margins, 20-30 s, with the others at the same load):
  the unstable neuron with the largest U_kj * m_kj * gap (1 - gap)^P, gap = min(-l, u) / (u - l), where U_kj
  bounds |d f / d x_kj| (the engine's backward bounds), m_kj = the dual norm of the interval enclosure of
  d z_kj / dx (the engine's `sensitivity`: how far the gradient moves when the derivative flips) and the last
  factor favours nearly stable neurons (the smaller side's share of the relu's interval near 1 / (P + 1): their split
  fixes a derivative at little cost; P = 8 with at most two hidden layers, 4 deeper, `kBalancePowerShallow` /
  `kBalancePowerDeep` in cpp/gradient_bounds.cpp: 64-48-48-1 pt0 l-inf exact in 4.4 s instead of 229 s with gap
  alone, 64-32-32-32-32-1 pt1 l-inf exact in 41 s with 4, open at 60 s with 8). With m_kj from magnitude
  products || |W_k| ... |W_1| || instead (which ignore cancellations and overrate deep neurons), the deep
  64-32-32-32-32-1 networks stalled (81.4 and 191.7 at 20 s against 69.1 and 167.0); without the gap factor
  deep pt1 reached 178.4; the interval balance min(-l, u) / (u - l) alone reached 83.8 against 71.8 on
  64-48-48-1 pt0 in 30 s.
- **Order**: best-first on the bound (the node that holds the upper bound is split first).
- **Node cost**: the root gets the engine's full optimisation, the nodes a cheaper setting (no per-coordinate
  slope optimisation, a few forward steps and SLOPE_STEPS final slope steps: at first 5 and 10, about 4 ms instead
  of 170 ms per node on 64-48-48-1; the forward steps per search below), so that many more nodes fit in the time.
  At 20 s (30 s on digits28) it gave 65.9 / 158.1 / 22.9 / 468.4 on digits pt0 l-inf / deep pt1 l-inf / deep pt1
  l2 / digits28 mlp r=0.03, against 67.2 / 161.4 / 23.5 / 475.1 without the per-coordinate stage only, 26.3 (deep
  pt1 l2) with the root's full setting, and 164-166 / 23.7 with no forward steps.
- **Time**: every engine call carries the stage's remaining time (the core stops optimising at it and returns
  the bound certified so far), and the loop checks it between rounds, each node's job when it is built and each
  call when a thread starts it (a call started past it leaves its node as it was).
"""
from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Deque, Dict, List, Optional, Tuple

import numpy as np

from .. import options as opt
from ..bounds import root_bounds
from ..bounds.gradient import NODE_OPTIONS, Bounds, GradientBounds, bound_problem
from ..bounds.jacobian import pattern_norm
from ..certify.partial import Conflicts, Rows, keeps_point, prefix_layer, prefix_point, prefix_rows
from ..certify.relaxed import deep_layer, deep_splits, relaxed_bounds, relaxed_empty, splits_hold
from ..certify.witness import certify, decide_region
from ..network import pattern_key
from ..problem import Problem
from ..result import is_exact
from ..sdp import search
from ..tracker import Tracker
from .naive import naive_upper
from .sample import sampling_stage

NEVER = math.inf
DIVE_PERIOD = 10        # a dive to a leaf starts every this many expansions
# Dives take at most this share of the search's time: on 784-256-256-1 (134 unstable neurons, 100 ms per engine
# call) one dive held the best node at 510.6 for 31 of 40 s; best-first took it to 495.2 in the next 0.7 s.
# In rounds (ROUND_NODES) a dive's node is one of the round's and is charged that share of its time, under
# DIVE_SHARE, and a dive of two rounds splits more than DIVE_PERIOD nodes: there one node of every round dives
# (as measured with ROUND_NODES), about a sixth of the work.
DIVE_SHARE = 0.25
# Engine calls at once: a round's calls (ROUND_NODES) run on this many threads (the core releases the GIL), on machines
# with a second core. [8, 20, 20, 1] l-inf to exact: 109 -> 97 s, the engine's share 51 -> 37 s (one run after the
# other, load 1); digits28 784-256-256-1 r = 0.01 to exact 57 -> 40 s, r = 0.03 at 60 s 450.8 -> 442.3; its CNN
# (784-1568-784-100-1) r = 0.01 at 60 s 281.73 -> 281.45 (peak memory 290 -> 650 MB). Only on networks with at most
# PAIR_MAX_WORK (a layer's weights times its width): the CIFAR-sized CNN (3072-4096-2048-100-1, 5e10) went over 2 GB
# with two calls at once. Nor below PAIR_MIN_WORK, where an engine call (0.15 ms on [8, 8, 8, 1]) costs about what
# handing it to a pool thread does: warm calls to exact on [8, w, w, 1] with one thread / two, four runs alternating,
# w = 8 l-inf 0.075 / 0.085 s, w = 12 l2 0.254 / 0.260 s; from w = 14 (work 2744) two were ahead, 0.388 / 0.377 s.
ENGINE_WORKERS = 2
# With a pool, a round takes the node popped and the next ROUND_NODES - 1 open nodes, and the pool's threads run
# their calls (children's engine calls and LipSDP, tightenings) as each becomes free: in a round of two children only,
# a thread waited whenever one child's LipSDP ran long or a tightening had no partner. 64-48-48-1 pt0 l2, lower bound
# given (the same 18,740 nodes): exact in 89 s one split (or tightening pair) at a time, 74 / 65 / 61 / 56 / 56 s
# with rounds of 2 / 3 / 4 / 6 / 10 nodes; the default pipeline then closes it in 57 s (108 s before).
ROUND_NODES = 6
# Rounds in the pool at once: while the threads run one round's calls, this thread keeps the books of the round
# before (children, leaves' LPs, prefix checks: 8 s of the 67 s of 64-48-48-1 pt1 l-inf to exact, the threads idle
# meanwhile) and launches the next; a round's nodes are popped before the round ahead of it has landed. One run
# after the other against one round at a time (2026-12-05): pt1 l-inf to exact 67.3 -> 63.7 s, pt0 l2 46.9 -> 45.2
# s, 64-48-48-10 pt0 / pt1 l2 at 60 s 11.5441 / 11.7110 -> 11.5290 / 11.6676, [8, 20, 20, 1] l2 10.1 -> 9.1 s.
FLIGHTS = 2
PAIR_MIN_WORK = 2000
PAIR_MAX_WORK = 4e9
# LipSDP's path on a node stops at the first centred point that shows its value above the search's lower bound
# (the node stays open whatever its gap: a tighter bound only reorders the heap) and after SDP_NEWTON steps (a path
# that has not pruned the node by then rarely does). On [8, 20, 20, 1] l2 the nodes' paths took 27 Newton steps on
# average, a quarter of them 40 or more, with the coarse gap of 1e-3; to exact 81.0 / 86.5 -> 64.2 / 65.7 s, LipSDP
# 38.4 / 41.0 -> 24.3 / 24.8 s, on the same 46,500-47,500 nodes (two rounds, one after the other, load 1).
SDP_NEWTON = 30
SDP_STOP = replace(search.NODE_STOP, coarse_rtol=math.inf, max_newton=SDP_NEWTON)

# p = inf: the direction inputs whose vertex signs are branched before any neuron, at most this many (2^n
# sign branches). ||g||_1 = max over the vertices v of g^T v; with v_i fixed the engine's objective has s_i g_i
# in place of the secant of |g_i|. On [8, 16, 16, 1] the secants' excess is about half the root bound: 25.8,
# against 13.6 for the largest of the 256 fully signed bounds (0.07 s for all of them).
SIGN_INPUTS = 12
SIGN = -1  # the layer index of a sign split: (SIGN, i) fixes v_i

# A node's relaxed LP (`certify.relaxed`) runs from this many splits after its prefix layer: on [8, 20, 20, 1]
# (60 s, default pipeline) it emptied 0-2 % of the nodes with at most 5 such splits, 3-13 % with 7 and 17-47 %
# with 12 or more (l-inf, l2). Through HiGHS an LP cost about as much as an engine call and 6 splits paid; in the
# core (cpp/relaxed_lp.cpp, about a tenth of that) 3 splits and a rate of 2 % (below) took [8, 20, 20, 1] to
# exact in 121.0 / 162.0 s (l-inf / l2) against 133.9 / 207.1 s with 6 and 8 %, and 123.1 s (l-inf) with 2 and 0.
RELAXED_MIN_SPLITS = 3
# ... on networks with at most RELAXED_MAX_INPUTS inputs: a few hyperplanes rarely leave a sign combination empty in
# many dimensions. On digits 64-48-48-1 pt0 l-inf (64 inputs) the LPs emptied 5-12 % of the nodes they checked but,
# at 3.3 ms each, left 63.5-64.6 at 60 s against 62.9 without them; on digitsdeep 64-32-32-32-32-1 pt0 the search
# closed in 37.5 / 44.4 s (l2 / l-inf) against 34.3 / 38.5 s.
RELAXED_MAX_INPUTS = 16
# ... and while they empty at least RELAXED_MIN_RATE of the nodes they check (after the first RELAXED_WARMUP;
# below it one eligible node in RELAXED_PROBE still gets its LP, to see the rate rise deeper in the tree). Measured
# rates: [8, 16 or 20, 16 or 20, 1] 11-25 % (the search to exact 1.7-2.7x faster at w = 16).
RELAXED_MIN_RATE = 0.02
RELAXED_WARMUP = 200
RELAXED_PROBE = 10
# In a search where the relaxed LPs can run (`hull` set), a node gets this many forward steps instead of
# NODE_OPTIONS': the LPs then empty the nodes the steps would have tightened. [8, 20, 20, 1] to exact, 20 -> 2 steps:
# l-inf 104 -> 41 s on 98,000 -> 59,000 nodes, l2 126 -> 64 s (2026-12-04). A rule that stopped the steps once two
# in a row improved no bound by 30 % (11736ab, for digitsdeep, whose 64 inputs have no relaxed LPs) then measured
# against 2 steps, one after the other (2026-12-05):
# [8, 20, 20, 1] l2 47.2 / 46.2 s against 42.7 / 39.6 s, l-inf 36.6 / 34.5 s against 33.3 / 35.4 s; the depth series'
# [8, 16 x 3 or 4, 1] at 60 s within 1 % either way (l-inf 11.9486 / 11.9559, l2 4.9190 / 4.8906, 41.35 / 40.99,
# 10.658 / 10.616); w = 16 exact in 1.2 / 1.5 s either way. Without the LPs (more than RELAXED_MAX_INPUTS inputs, or
# R^n) the rule lost: digits28's 784-256-256-1 at r = 0.01 went from exact in 56-58 s to 323.09 / 325.72 at 70 s
# under the rule, [8, 16, 16, 1] on R^n l-inf took 26.1 / 25.8 s to exact with it, 11.3 / 10.8 s without, and
# 64-48-48-1 pt0 l-inf gained nothing (61.49 / 61.17 at 60 s).
RELAXED_FORWARD_STEPS = 2
# Where the tightening LPs run (below) but no relaxed LPs, a node gets this many forward steps: deep in the tree the
# LPs bound the pre-activations that the steps would, and the steps beyond these moved few bounds. Default pipeline,
# 20 -> 5 steps, one run after the other (2026-12-05): 64-48-48-1 pt1 l-inf to exact 63.7 -> 58.6 s on the same
# 56,000 engine calls, pt0 l-inf at 60 s 54.13 -> 53.82, digitsdeep 64-32-32-32-32-1 pt1 l-inf 48.4 -> 47.4 s, pt0
# l2 and digitsdeep pt0 l-inf within 1 s. Not where LipSDP bounds the nodes too (p = 2), whose node costs a few engine
# calls: there the steps paid (64-48-48-10 pt0 / pt1 l2 at 60 s 11.5212 / 11.6176 with 20, 11.5360 / 11.6276 with 5,
# digitsdeep -10 pt0 22.2360 against 22.3431); nor without the LPs (digits28's 784-256-256-1 at r = 0.01 exact in
# 46.7 s with 20, 323.09 / 325.80 at 60 s with 5).
TIGHTENED_FORWARD_STEPS = 5
# The final slope steps of a node's engine calls, its tightening's re-runs too (NODE_OPTIONS has 10): more moved
# few bounds by enough to spare a split. Default pipeline, 10 -> 5, one run after the other (2026-12-05): digitsdeep
# 64-32-32-32-32-10 pt0 l2 exact in 52.7 s (22.2171 / 22.2465 at 60 s with 10), 64-48-48-10 pt0 / pt1 l2 at 60 s
# 11.5215 / 11.6176 -> 11.5075 / 11.5995, 64-48-48-1 pt1 l-inf to exact 61.3 -> 55.3 s on the same 56,000 engine
# calls, pt0 l2 44.9 -> 43.4 s, pt0 l-inf at 60 s 53.82 -> 53.74, digitsdeep -1 pt0 / pt1 l-inf 22.5 / 47.6 -> 22.0 /
# 46.6 s. With 3: digitsdeep -10 pt0 l2 exact in 50.1 s, 64-48-48-10 pt0 11.5004, pt1 l-inf 57.1 s.
SLOPE_STEPS = 5
# A node at least TIGHTEN_DEPTH splits deep, the first time it is popped, gets its open neurons' pre-activation
# bounds by LP over its triangle relaxation with its splits (`certify.relaxed.relaxed_bounds`), stage by stage as
# TIGHTEN_STAGES says (first layer, last layer (None: the last hidden one), signs only), the engine re-run on each
# stage's bounds; it goes back to the heap with the new bound, or is dropped when empty or dominated. A tightening
# runs in a round beside other nodes' work (ROUND_NODES). What the engine's few forward steps miss is the polyhedron
# its splits cut from the box: on the 40 best open nodes of 64-48-48-1 pt1 l2 after 20 s (bounds 9.14, lower bound
# 8.3774) the first layer's LP and the later layers' signs left 36 of 40 empty or below the lower bound, 15 ms per
# node (both layers' full LP 85 ms, 32 of 40; its signs only 21 ms, 32; the first layer alone 5.5 ms, 9).
# `method="bab"` at 60 s there: 8.3774 / 8.9002 without, 8.5494 / 8.5417 / 8.5318 / 8.5803 / 8.7469 from depth 0 / 4 /
# 8 / 12 / 16, and 8.3984 / 8.4751 with the LPs' sparse rows; exact (8.4314) in 83 s. The default pipeline closes it
# in 12.2 s (8.3774 / 8.5033 at 300 s before). On digitsdeep 64-32-32-32-32-1 pt0 l2 (`bab`, to exact) 12.3 s without,
# 15.1 s with (the first layer alone 14.5 s, one stage per layer 23.4 s).
# Only every TIGHTEN_PERIOD-th depth from TIGHTEN_DEPTH on is tightened; the others start from their parent's
# tightened bounds (the engine's prior). Every other depth, one run after the other with the first layer's LP
# substituted (5dec11a): 64-48-48-1 pt0 l2 at 60 s 8.0458 -> 7.9952, pt0 l-inf 57.3291 -> 56.7871, pt1 l2 exact in
# 9.1 -> 9.0 s, [8, 20, 20, 1] l2 / l-inf to exact 15.2 / 26.3 -> 13.8 / 21.1 s (every third depth, before 5dec11a:
# pt0 l2 8.0512 and 8.0425 against 8.0528 and 8.0489 every other, 8.1184 and 8.0922 every one).
# The engine re-run on a stage's LP bounds takes no forward steps: they tightened little that the LPs had not, and
# cost a fifth of the engine's time. 64-48-48-1 pt1 l-inf to exact 82.4 -> 74.4 s (engine 87 -> 72 s of the threads'
# time, the same 56,000 engine calls), pt0 l2 51.0 -> 49.6 s (one run after the other, load 1.4-2).
TIGHTEN_DEPTH = 8
TIGHTEN_PERIOD = 2
TIGHTEN_STAGES = ((0, 0, False), (1, None, True))
# ... on networks whose LP has at most about this many columns (inputs + twice the hidden neurons: 256 on the
# 64-48-48 digits networks, 320 on the deep ones): the LP is dense, its basis inverse too, and a pivot costs the
# square of its rows; digits28's 784-256-256 (1,808) and the CIFAR-sized CNN are left out (not measured).
TIGHTEN_MAX_COLUMNS = 400

Split = Tuple[int, int]  # (hidden layer, neuron), or (SIGN, direction input)


@dataclass
class Node:
    """An open node: its certified bound, the split decisions (-1 open, 0, 1 per hidden neuron), the engine's
    forward bounds on it (the children's prior, in the engine's coordinates), the neuron to split next, and
    what the region LPs know: the constraints of its prefix region and an interior point of it. Until the node
    is expanded these are its parent's (`checked` False): most nodes are pruned before they need an LP."""

    bound: float
    states: List[np.ndarray]
    forward: List[Bounds]
    split: Optional[Split]         # None: a leaf (every neuron decided)
    depth: int
    status: List[np.ndarray]       # split or stable (0, 1) or open (-1) per neuron, on the node's set
    rows: Rows                     # the constraints of the prefix region (certify.partial)
    x: Optional[np.ndarray]        # an interior point of the prefix region (None: not known)
    checked: bool = False
    sdp: Optional[search.Node] = None  # LipSDP on the node's slopes, when it bounds the nodes too
    signs: Optional[np.ndarray] = None  # p = inf: the vertex signs fixed so far (+1, -1; 0 free), see SIGN_INPUTS
    tightened: bool = False  # its bounds tightened by LP already (TIGHTEN_DEPTH)


@dataclass
class Evaluated:
    """A node's engine result read in the problem's coordinates: status per neuron (0 off, 1 on, -1 unstable),
    and the LipSDP node whose bound holds on it (when LipSDP bounds the nodes too)."""

    result: GradientBounds
    status: List[np.ndarray]
    sdp: Optional[search.Node]


@dataclass
class Tightening:
    """A node's LP tightening (`GradientBaB._tightening`): whether an LP proved it empty, the engine calls made on
    the tightened bounds (results and their Timed), and the LPs' seconds."""

    empty: bool
    calls: List[Tuple[GradientBounds, "Timed"]]
    lp: float


@dataclass
class Job:
    """A popped node's work in a round (`GradientBaB._launch`): the node, whether it is its tightening, the calls
    that change nothing in the search (the engine, LipSDP, the LPs: any thread may run them) and the books on their
    results, which return what stays open of the node (itself when tightened, else its children)."""

    node: "Node"
    tighten: bool
    calls: List[Callable[[], object]]
    finish: Callable[[list], List["Node"]]


@dataclass
class Flight:
    """A round's jobs in the pool (`GradientBaB._launch`): their calls' futures (their results without a pool), and
    whether its first node is a dive's."""

    jobs: List[Job]
    calls: list
    dive: bool


@dataclass
class Timed:
    """The LipSDP node of a node's evaluation (`GradientBaB._lipsdp`), and the seconds of its engine and LipSDP."""

    node: Optional[search.Node]
    engine: float
    sdp: float


class GradientBaB:
    """Best-first branch-and-bound over neuron splits with the engine's bounds; leaves closed by region LPs."""

    def __init__(self, problem: Problem, tracker: Tracker, sdp: Optional[search.Node] = None):
        self.problem, self.tracker = problem, tracker
        self.sdp = sdp  # LipSDP's root node: given, every node's bound is also LipSDP's on its slopes (p = 2)
        self.net = problem.network
        self.sizes = self.net.hidden_sizes
        self.heap: List[Tuple[float, int, Node]] = []
        self.dive: Optional[Node] = None  # the open node a dive expands next (not in the heap)
        self.dive_period = DIVE_PERIOD
        self.order = itertools.count()
        self.closed = 0.0   # max over closed leaves (their values, `_leaf`) and pruned nodes (bounds)
        self.stuck: List[float] = []  # leaves whose region could be neither certified nor excluded
        self.nodes = self.leaves = self.regions = self.empty = self.pruned = self.lps = self.sign_splits = 0
        self.relaxed = self.relaxed_emptied = 0  # LPs of `_relaxed_check`, and the nodes they proved empty
        self.relaxed_eligible = 0  # nodes that could have had one (`_relaxed_pays`)
        # the box of the relaxed LPs: the domain's hull (a ball's rounded outward, `Ball.box_hull`); None on R^n
        # and on networks with more than RELAXED_MAX_INPUTS inputs (no relaxed LPs)
        self.hull = problem.domain.box_hull() if self.net.input_dim <= RELAXED_MAX_INPUTS else None
        # the tightening LPs' box (TIGHTEN_DEPTH); None on R^n and past TIGHTEN_MAX_COLUMNS (no tightening)
        self.box = (problem.domain.box_hull()
                    if self.net.input_dim + 2 * sum(self.sizes) <= TIGHTEN_MAX_COLUMNS else None)
        self.tightenings = self.tighten_kills = 0  # nodes tightened and kept, and dropped
        self.tighten_time = 0.0  # the tightening LPs' seconds, summed over threads
        steps = (RELAXED_FORWARD_STEPS if self.hull is not None
                 else TIGHTENED_FORWARD_STEPS if self.box is not None and sdp is None
                 else NODE_OPTIONS["forward_iterations"])
        self.node_options = dict(NODE_OPTIONS, forward_iterations=steps, iterations=SLOPE_STEPS)
        # vertex signs are branched (SIGN_INPUTS) where ||J||_{inf->q} is a maximum of rows' ||g||_1
        self.signed = (math.isinf(problem.p) and (math.isinf(problem.q) or self.net.output_dim == 1)
                       and 0 < self.net.input_dim <= SIGN_INPUTS)
        # a full pattern -> its region exists (True), is empty (False) or is undecided (None): sign branches share
        # leaves
        self.verdicts: Dict[bytes, Optional[bool]] = {}
        self.conflicts = Conflicts()  # prefix regions proved empty, reused by later nodes (certify.partial)
        # per neuron: its sign on the whole domain (0, 1) or -1, from the root's bounds; a region LP needs no row
        # for a neuron with its pattern's sign there (`_skip`). None on R^n, whose engine bounds are the
        # homogenised network's
        self.domain_signs: Optional[List[np.ndarray]] = None
        self.deadline = tracker.deadline
        self.engine_time = self.lp_time = self.sdp_time = 0.0  # seconds; the engine's and LipSDP's summed over threads
        work = max(W.size * W.shape[0] for W in self.net.weights)
        self.workers = ENGINE_WORKERS if usable_cores() > 1 and PAIR_MIN_WORK <= work < PAIR_MAX_WORK else 1
        self.pool: Optional[ThreadPoolExecutor] = None  # while `run` runs with workers > 1
        self.flights: Deque[Flight] = collections.deque()  # rounds launched, not landed (`_search`)
        self.failed = False  # the search raised: its books no longer bound anything (`upper`, `complete`)

    # ---- the engine -------------------------------------------------------------------------------
    def _engine(self, states: Optional[List[np.ndarray]], prior: Optional[List[Bounds]], options: dict,
                signs: Optional[np.ndarray]) -> GradientBounds:
        """One engine call (the core releases the GIL: two may run at once, see `_launch`)."""
        return bound_problem(self.problem, states=states, prior=prior, signs=signs,
                             time_limit=max(self.deadline - time.perf_counter(), 0.0), **options)

    def _bounds(self, states: Optional[List[np.ndarray]], prior: Optional[List[Bounds]], options: dict,
                signs: Optional[np.ndarray], sdp: Optional[search.Node]) -> Tuple[GradientBounds, Timed]:
        """A node's engine call, then LipSDP on its slopes (`_lipsdp`) given its parent's LipSDP node `sdp`; with the
        seconds each took. Changes nothing in the search, so either thread may run it."""
        start = time.perf_counter()
        res = self._engine(states, prior, options, signs)
        engine = time.perf_counter() - start
        return res, self._lipsdp(res, sdp, engine)

    def _lipsdp(self, res: GradientBounds, sdp: Optional[search.Node], engine: float = 0.0) -> Timed:
        """The LipSDP node that bounds the engine's node `res` (its own, or `sdp`, its parent's, which holds on it
        too), with `engine` and the seconds LipSDP took. Solved only where it can matter: the node open (not proved
        empty, not dominated, a neuron left to split) and the engine's bound above the parent's LipSDP bound. A
        solve costs 2-4x an engine node; capped at 30 % of the search's time while it cost 20-50x in numpy, it left
        64-48-48-1 pt0 l2 at 9.46 against 8.96 uncapped at 60 s."""
        if sdp is None or res.empty or res.upper <= sdp.bound or self._beaten(res.upper):
            return Timed(sdp, engine, 0.0)
        status = self._status(res)
        if not any((s < 0).any() for s in status):  # a leaf: closed by its region LP
            return Timed(sdp, engine, 0.0)
        start = time.perf_counter()
        free, solution, bound = search.evaluate(sdp.net, status, self.deadline, sdp, SDP_STOP, self.tracker.lower)
        return Timed(search.Node(-bound, 0, sdp.net, status, free, solution), engine, time.perf_counter() - start)

    def _evaluate(self, states: Optional[List[np.ndarray]], prior: Optional[List[Bounds]],
                  options: dict, signs: Optional[np.ndarray] = None,
                  sdp: Optional[search.Node] = None) -> Optional[Evaluated]:
        """The engine (and LipSDP, given the parent's LipSDP node `sdp`) on a node; None when it is proved empty."""
        self.nodes += 1
        return self._read(*self._bounds(states, prior, options, signs, sdp))

    def _status(self, res: GradientBounds) -> List[np.ndarray]:
        """Each neuron's status on the engine's node (0 off, 1 on, -1 unstable); on R^n the t neuron comes last."""
        return [s[:n] for s, n in zip(res.status, self.sizes)]

    def _read(self, res: GradientBounds, timed: Timed) -> Optional[Evaluated]:
        """An engine result with the status of each neuron and the LipSDP node (None when the node is empty)."""
        self.engine_time += timed.engine
        self.sdp_time += timed.sdp
        if res.empty:
            self.empty += 1
            return None
        return Evaluated(res, self._status(res), timed.node)

    def _branching(self, ev: Evaluated, signs: Optional[np.ndarray]) -> Optional[Split]:
        """The free vertex sign whose secant is loosest while any is loose (SIGN_INPUTS), else the unstable neuron
        with the largest score (module docstring; the core computes it with the status, `bounds.gradient`); None
        when every neuron is decided."""
        res = ev.result
        if signs is not None and any((s < 0).any() for s in ev.status) and np.max(res.sign_excess, initial=0.0) > 0.0:
            return SIGN, int(np.argmax(res.sign_excess))  # computed by the core beside the status and scores
        best, choice = -1.0, None
        for k, n in enumerate(self.sizes):
            score = res.scores[k][:n]
            i = int(np.argmax(score))
            if score[i] > best:  # open neurons score >= 0, the others -1
                best, choice = float(score[i]), (k, i)
        return choice

    # ---- nodes ------------------------------------------------------------------------------------
    def _node(self, states: List[np.ndarray], ev: Evaluated, parent: Optional[Node],
              signs: Optional[np.ndarray] = None) -> Optional[Node]:
        """The open node for an engine result; None when it is dominated or a leaf (closed here)."""
        bound = ev.result.upper
        if self._dominated(bound):
            return None
        split = self._branching(ev, signs)
        sdp = ev.sdp
        if split is not None and sdp is not None:
            bound = min(bound, sdp.bound)
            if self._dominated(bound):
                return None
        node = Node(bound, states, ev.result.forward, split, 0 if parent is None else parent.depth + 1,
                    ev.status, parent.rows if parent is not None else set(), parent.x if parent is not None else None,
                    # a sign branch has its parent's splits (the same object), so its parent's checks
                    checked=parent is not None and parent.checked and states is parent.states, sdp=sdp, signs=signs)
        if split is None:
            self._leaf(node)
            return None
        return node

    def _push(self, node: Node) -> None:
        heapq.heappush(self.heap, (-node.bound, next(self.order), node))

    def _check(self, node: Node) -> bool:
        """Bring the node's prefix region up to date (its `rows` and `x` are still its parent's), then try its
        splits beyond the prefix (`certify.relaxed`); False when either proves the node empty."""
        if node.checked:
            return True
        node.checked = True
        k = prefix_layer(node.status)
        return self._prefix_check(node, k) and self._relaxed_check(node, k)

    def _prefix_check(self, node: Node, k: int) -> bool:
        """The prefix region (`certify.partial`); False when it is proved empty. The parent's point is kept when
        the new constraints hold there with margin, so only one child of a split on the prefix needs an LP."""
        rows = prefix_rows(node.states, k)
        new = rows - node.rows
        node.rows = rows
        if not new or (node.x is not None and keeps_point(self.net, node.x, node.status, node.states, new)):
            return True
        if k < len(self.sizes) and self.conflicts.empty(node.status, node.states[k], k):
            self.empty += 1
            return False
        start = time.perf_counter()
        node.x, proof = prefix_point(self.net, self.problem.domain, node.status, node.states, k, self.deadline,
                                     self._skip(node.status))
        self.lp_time += time.perf_counter() - start
        self.lps += 1
        if proof is not None:
            self.empty += 1
            if k < len(self.sizes):
                self.conflicts.add(node.status, node.states[k], k, proof)
        return proof is None

    def _relaxed_check(self, node: Node, k: int) -> bool:
        """The splits after the prefix layer on the triangle relaxation (`certify.relaxed`); False when it proves
        the node empty. Not on R^n, whose engine bounds are the homogenised network's."""
        last = deep_layer(node.states, k)
        if last is None or self.hull is None or deep_splits(node.states, k) < RELAXED_MIN_SPLITS:
            return True
        self.relaxed_eligible += 1
        if not self._relaxed_pays() or (node.x is not None and splits_hold(self.net, node.x, node.states, last)):
            return True
        start = time.perf_counter()
        empty = relaxed_empty(self.net, self.hull[0], self.hull[1], node.status, node.states, node.forward, last,
                              self.deadline)
        self.lp_time += time.perf_counter() - start
        self.lps += 1
        self.relaxed += 1
        self.relaxed_emptied += empty
        self.empty += empty
        return not empty

    def _relaxed_pays(self) -> bool:
        """Whether the latest eligible node gets its relaxed LP: RELAXED_MIN_RATE above, one in RELAXED_PROBE below it."""
        return (self.relaxed < RELAXED_WARMUP or self.relaxed_emptied >= RELAXED_MIN_RATE * self.relaxed
                or self.relaxed_eligible % RELAXED_PROBE == 0)

    def _known_empty(self, parent: Node, states: List[np.ndarray], k: int, prefix: int) -> bool:
        """A child split in its parent's prefix layer (`prefix`: the layers before it decided) whose prefix region a
        known conflict already proves empty: dropped before its engine call."""
        if k != prefix or not self.conflicts.empty(parent.status, states[k], k):
            return False
        self.empty += 1
        return True

    def _skip(self, status: List[np.ndarray]) -> Optional[List[np.ndarray]]:
        """The neurons whose region rows an LP may leave out: decided with the sign they have on the whole domain
        (`certify.regions.region_point`). On 784-256-256-1 digits28 (29 unstable) a leaf's LP took 1.5 s with
        every neuron's row."""
        if self.domain_signs is None:
            return None
        return [(d >= 0) & (d == s) for d, s in zip(self.domain_signs, status)]

    def _beaten(self, bound: float) -> bool:
        """A bound that cannot beat the certified lower bound, or is <= 0 (possible under sign branches: L >= 0)."""
        lower = self.tracker.lower
        return bound <= 0.0 or (lower > 0.0 and (bound <= lower or is_exact(lower, bound)))

    def _dominated(self, bound: float) -> bool:
        """A node that cannot beat the certified lower bound is dropped (`_beaten`); its bound joins `closed`, and
        `upper()` never goes below 0."""
        if self._beaten(bound):
            self.pruned += 1
            self.closed = max(self.closed, bound)
            return True
        return False

    def _leaf(self, node: Node) -> None:
        """Every neuron decided: the region is certified at the point found on the way or by its LP, proved
        empty, or left undecided."""
        self.leaves += 1
        pattern = [np.where(s > 0, 1, 0).astype(np.uint8) for s in node.status]
        value, upper, v = pattern_norm(self.net, pattern, self.problem.p, self.problem.q)
        cap = min(upper, node.bound)  # both bound ||J(g)||, the one Jacobian of this leaf's region (if any)
        if self._dominated(cap):  # whether or not the region exists, it cannot beat the lower bound
            return
        key = pattern_key(pattern)
        if key in self.verdicts:  # decided under another sign branch (its witness, if any, was offered then)
            verdict = self.verdicts[key]
            if verdict:
                self.closed = max(self.closed, cap)
            elif verdict is None:
                self.stuck.append(cap)
            return
        last = len(self.sizes) - 1  # (-1: no hidden layer, nothing to remember)
        if last >= 0 and self.conflicts.empty(node.status, node.status[last], last):  # every row of the prefix's
            self.empty += 1
            self.verdicts[key] = False
            return
        witness = None
        if node.x is not None and keeps_point(self.net, node.x, node.status, node.states,
                                              prefix_rows(node.states, len(self.sizes)) - node.rows):
            witness = certify(self.problem, node.x, v)
        # (a witness's pattern is the problem's: fixing inputs removes no hidden neuron)
        if witness is None or any(not np.array_equal(a, b) for a, b in zip(witness.pattern, pattern)):
            start = time.perf_counter()
            exists, witness, proof = decide_region(self.problem, pattern, v, value, self.tracker.lower, self.deadline,
                                                   self._skip(node.status))
            self.lp_time += time.perf_counter() - start
            self.lps += 1
            if exists is False:
                self.empty += 1
                self.verdicts[key] = False
                if last >= 0:
                    self.conflicts.add(node.status, node.status[last], last, proof)
                return
            if exists is None:
                self.verdicts[key] = None
                self.stuck.append(cap)  # too thin to certify or exclude, or out of time
                return
        self.regions += 1
        self.verdicts[key] = True
        self.closed = max(self.closed, cap)
        self.tracker.offer_lower(witness)

    def upper(self) -> float:
        """The certified upper bound now: open nodes (the heap, the dive and the flights' nodes), closed leaves, pruned
        nodes, undecided leaves; inf after the search raised."""
        if self.failed:
            return math.inf
        top = -self.heap[0][0] if self.heap else 0.0
        dive = self.dive.bound if self.dive is not None else 0.0
        flying = [job.node.bound for flight in self.flights for job in flight.jobs]
        return max([top, dive, self.closed] + self.stuck + flying)

    @property
    def complete(self) -> bool:
        return not self.heap and self.dive is None and not self.stuck and not self.flights and not self.failed

    # ---- the search -------------------------------------------------------------------------------
    def _pop(self) -> Optional[Node]:
        while self.heap:
            node = heapq.heappop(self.heap)[2]
            if not self._dominated(node.bound):
                return node
        return None

    def _needs_tightening(self, node: Node) -> bool:
        """A node that gets `_tightening` when popped (TIGHTEN_DEPTH, TIGHTEN_PERIOD, TIGHTEN_MAX_COLUMNS; not on
        R^n, whose engine bounds are the homogenised network's)."""
        return (not node.tightened and node.depth >= TIGHTEN_DEPTH and self.box is not None
                and (node.depth - TIGHTEN_DEPTH) % TIGHTEN_PERIOD == 0)

    def _tightening(self, node: Node) -> Tightening:
        """LP bounds on the node's open neurons stage by stage (TIGHTEN_STAGES), each followed by the engine on
        them (no forward steps: see TIGHTEN_DEPTH); stops early on an empty or dominated stage. Changes nothing in
        the search, so either thread may run it."""
        options = dict(self.node_options, forward_iterations=0, target=max(self.tracker.lower, 0.0))
        forward, calls, lp = node.forward, [], 0.0
        last = len(self.sizes) - 1
        for first, end, signs in TIGHTEN_STAGES:
            end = last if end is None else min(end, last)
            if first > last:
                break
            start = time.perf_counter()
            tight = relaxed_bounds(self.net, self.box[0], self.box[1],
                                   node.status if not calls else self._status(calls[-1][0]), node.states,
                                   forward[:end + 1], first, signs, self.deadline)
            lp += time.perf_counter() - start
            if tight is None:
                return Tightening(True, calls, lp)
            res, timed = self._bounds(node.states, tight + list(forward[end + 1:]), options, node.signs, node.sdp)
            calls.append((res, timed))
            if res.empty or self._beaten(min(node.bound, res.upper)):
                break
            forward = res.forward
        return Tightening(False, calls, lp)

    def _tightened(self, node: Node, t: Tightening) -> Optional[Node]:
        """The search's books on a node's `_tightening`: the node with its new bound (the engine's, or LipSDP's on
        the new status), branching and prior, or None when it is empty, dominated or a leaf now (closed here)."""
        self.tighten_time += t.lp
        self.nodes += len(t.calls)
        evs = [self._read(res, timed) for res, timed in t.calls]
        ev = None if t.empty else evs[-1]
        if t.empty:
            self.empty += 1
        # every stage's bound holds on the node (the engine's, and LipSDP's on the status of the last)
        bound = math.inf if ev is None else min([node.bound] + [res.upper for res, _ in t.calls]
                                                 + [ev.sdp.bound if ev.sdp is not None else math.inf])
        if ev is None or self._dominated(bound):
            self.tighten_kills += 1
            return None
        self.tightenings += 1
        node.bound, node.forward, node.status, node.sdp = bound, ev.result.forward, ev.status, ev.sdp
        node.split = self._branching(ev, node.signs)
        if node.split is None:  # every neuron decided now: a leaf
            self._leaf(node)
            return None
        return node

    def _more(self, count: int) -> List[Node]:
        """Up to `count` more open nodes, the best first, for a round beside the node popped (none without a pool):
        every open node above the final lower bound is split before the search is exact, so their work is rarely
        wasted."""
        nodes = []
        while self.pool is not None and len(nodes) < count:
            node = self._pop()
            if node is None:
                break
            nodes.append(node)
        return nodes

    def _job(self, node: Node) -> Job:
        """A popped node's work: its tightening (`_needs_tightening`) or its split. Out of time before its
        children, the node itself stays open (an engine call started near the deadline returns the bound it has,
        still sound)."""
        tighten = self._needs_tightening(node)
        node.tightened = node.tightened or tighten
        if not self._check(node):
            return Job(node, tighten, [], lambda _: [])
        if tighten:
            return Job(node, True, [lambda: self._tightening(node)],
                       lambda r: [n for n in [self._tightened(node, r[0])] if n is not None])
        if time.perf_counter() >= self.deadline:
            return Job(node, False, [], lambda _: [node])
        k, j = node.split
        prefix = prefix_layer(node.status)
        options = self.node_options
        if k == SIGN:
            self.sign_splits += 1
        if k in (SIGN, len(self.sizes) - 1):
            # no forward steps where they cannot tighten the parent's bounds (the children's prior): a sign split
            # changes only the objective, and a split in the last hidden layer constrains no hidden layer's
            # pre-activations but its own neuron's ([8, 20, 20, 1] l-inf to exact 179.1 -> 157.8 s, engine 98.5 ->
            # 78.5 s, on the same 97,900 nodes; w = 8 l-inf warm 0.161 -> 0.137 s)
            options = dict(options, forward_iterations=0)
        # the engine stops optimising a child once its bound is low enough to drop it (`_dominated`, without the
        # exactness slack, which would loosen the bounds that `closed` keeps)
        options = dict(options, target=max(self.tracker.lower, 0.0))
        pending = []  # (states, signs) of the children to evaluate
        for value in (0, 1):
            states, signs = node.states, node.signs
            if k == SIGN:
                signs = signs.copy()
                signs[j] = 2 * value - 1
            else:
                states = [s.copy() for s in states]
                states[k][j] = value
                if self._known_empty(node, states, k, prefix):
                    continue
            pending.append((states, signs))
        calls = [lambda c=c: self._bounds(c[0], node.forward, options, c[1], node.sdp) for c in pending]
        return Job(node, False, calls, lambda results: self._children(node, pending, results))

    def _children(self, node: Node, pending: list, results: list) -> List[Node]:
        """The books on a split's engine calls: the children that stay open (leaves are closed, dominated and empty
        ones dropped)."""
        self.nodes += len(results)
        children = []
        for (states, signs), (res, timed) in zip(pending, results):
            ev = self._read(res, timed)
            if ev is not None:
                child = self._node(states, ev, node, signs)
                if child is not None:
                    children.append(child)
        return children

    def _launch(self, batch: List[Node], dive: bool) -> Flight:
        """The popped nodes' jobs (`_job`), their calls handed to the pool (tightenings, the longest, first), whose
        threads run them while this thread keeps the books of the flight before (FLIGHTS); run in turn without a
        pool."""
        jobs = [self._job(node) for node in batch]
        calls = [(job.tighten, lambda call=call: None if time.perf_counter() >= self.deadline else call())
                 for job in jobs for call in job.calls]
        if self.pool is None:
            return Flight(jobs, [call() for _, call in calls], dive)
        futures: list = [None] * len(calls)
        for i in sorted(range(len(calls)), key=lambda i: not calls[i][0]):
            futures[i] = self.pool.submit(calls[i][1])
        return Flight(jobs, futures, dive)

    def _land(self, flight: Flight) -> List[Tuple[bool, List[Node]]]:
        """A flight's books once its calls are done: per node, whether it was tightened and what stays open."""
        results = flight.calls
        if self.pool is not None:
            try:
                results = [f.result() for f in flight.calls]
            except BaseException:
                for f in flight.calls:
                    f.cancel()
                raise
        out, i = [], 0
        for job in flight.jobs:
            done = results[i:i + len(job.calls)]
            i += len(job.calls)
            if any(r is None for r in done):  # a call started past the deadline: the node stays as it was
                job.node.tightened = job.node.tightened and not job.tighten
                out.append((job.tighten, [job.node]))
            else:
                out.append((job.tighten, job.finish(done)))
        return out

    def run(self, time_limit: float = NEVER, root: Optional[GradientBounds] = None) -> bool:
        """Search until done or `time_limit`; True when complete (then `upper()` is the exact maximum).
        With a second core, `workers` threads run the rounds' calls (`_launch`) while this thread keeps the books."""
        with ThreadPoolExecutor(self.workers) if self.workers > 1 else contextlib.nullcontext() as pool:
            self.pool = pool
            try:
                return self._search(time_limit, root)
            except BaseException:
                self.failed = True  # nodes popped or in flight may be off the books now
                raise
            finally:
                for flight in self.flights:  # left by an exception: nothing more of them to run
                    for f in flight.calls if pool is not None else []:
                        f.cancel()
                self.pool = None

    def _search(self, time_limit: float, root: Optional[GradientBounds]) -> bool:
        """`run`'s search.

        Best-first in rounds (ROUND_NODES), FLIGHTS of them in the pool at once, except that every `dive_period`
        splits the best node is dived: its better child is expanded next, down to a leaf (a region, so a witness for
        the lower bound that prunes the rest), while dives have taken at most DIVE_SHARE of the time (an unfinished
        dive's node goes back to the heap; see DIVE_SHARE for rounds).
        `root`: the engine's result on the whole domain when the caller has it."""
        self.deadline = min(self.tracker.deadline, time.perf_counter() + time_limit)
        root = (self._evaluate(None, None, {}, sdp=self.sdp) if root is None
                else self._read(root, self._lipsdp(root, self.sdp)))
        if root is None:  # without a forced sign the engine raises rather than report the domain empty
            raise RuntimeError("the gradient-bound engine reported the whole domain empty")
        self.tracker.offer_upper(root.result.upper)
        if self.problem.domain.box_hull() is not None:
            # read-only and aliasing no node's status: region LPs leave rows out by it
            self.domain_signs = [s.copy() for s in root.status]
            for s in self.domain_signs:
                s.setflags(write=False)
        signs = np.zeros(self.net.input_dim, dtype=np.int8) if self.signed else None
        node = self._node([np.full(h, -1, dtype=np.int8) for h in self.sizes], root, None, signs)
        if node is not None:
            self._push(node)
        self.tracker.offer_upper(self.upper())
        steps, next_dive = 0, 0  # nodes split so far, and the count at which the next dive may start
        start, diving = time.perf_counter(), 0.0  # seconds spent in dives
        landed = start  # when the last flight landed: a flight's time is from the one before it to its own
        while True:
            now = time.perf_counter()
            node, dive = None, False
            while len(self.flights) < (FLIGHTS if self.pool is not None else 1) and now < self.deadline:
                if self.dive is None:
                    node = self._pop()
                    # one dive at a time: none starts while a dive's node is in flight
                    if (node is not None and steps >= next_dive and diving <= DIVE_SHARE * (now - start)
                            and not any(f.dive for f in self.flights)):
                        dive, next_dive = True, steps + self.dive_period
                    break
                if diving > DIVE_SHARE * (now - start):  # the dive had its share: back to best-first
                    self._push(self.dive)
                elif not self._dominated(self.dive.bound):  # (else the lower bound rose past it)
                    node, dive = self.dive, True
                self.dive = None
                if node is not None:
                    break
            if node is not None:
                self.flights.append(self._launch([node] + self._more(ROUND_NODES - 1), dive))
                continue
            if not self.flights:
                break
            flight = self.flights.popleft()
            outcomes = self._land(flight)
            steps += sum(not tightened for tightened, _ in outcomes)
            tightened, kept = outcomes[0]
            if flight.dive:
                node = flight.jobs[0].node
                diving += (time.perf_counter() - landed) / len(flight.jobs)  # the dive's share of the round
                if tightened:  # dive on from the tightened node, if it stays open
                    self.dive = next(iter(kept), None)
                    kept = []
                elif kept and kept[-1] is not node:  # dive on into the better child with interior
                    empty = []
                    for child in sorted(kept, key=lambda c: -c.bound):
                        if self._check(child):
                            self.dive = child
                            break
                        empty.append(child)
                    kept = [c for c in kept if c is not self.dive and all(c is not e for e in empty)]
            landed = time.perf_counter()
            for open_nodes in [kept] + [nodes for _, nodes in outcomes[1:]]:
                for child in open_nodes:
                    self._push(child)
            self.tracker.offer_upper(self.upper())
        done = self.complete
        if done:
            self.tracker.offer_upper(self.closed)
        return done

    def note(self) -> str:
        return (f"{self.nodes} engine calls" + (f" ({self.sign_splits} sign splits)" if self.signed else "")
                + (f" on {self.workers} threads" if self.workers > 1 else "")
                + f", {self.tightenings} tightened ({self.tighten_kills} killed, {self.tighten_time:.2f} s)"
                + f", {self.leaves} leaves ({self.regions} regions), {self.empty} empty, "
                f"{self.pruned} pruned, {len(self.heap)} open, engine {self.engine_time:.2f} s (summed over threads, as "
                f"LipSDP's), {self.lps} LPs "
                f"({self.relaxed} relaxed, {self.relaxed_emptied} empty) "
                f"{self.lp_time:.2f} s ({self.conflicts.used} spared by conflicts)" + (f", LipSDP {self.sdp_time:.2f} s" if self.sdp is not None else ""))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gradient_search(problem: Problem, tracker: Tracker, time_limit: float = NEVER,
                    root: Optional[GradientBounds] = None, sdp: Optional[search.Node] = None) -> Tuple[str, str]:
    """The branch-and-bound as a stage (`root`: the engine's bound on the whole domain if already computed;
    `sdp`: LipSDP's root node, to bound every node by LipSDP too): 'optimal' when it completed (the tracker
    then holds the exact maximum over the regions as its upper bound), 'time_limit', or 'finished' when only
    leaves too thin to certify or exclude are left."""
    bab = GradientBaB(problem, tracker, sdp=sdp)
    done = bab.run(time_limit, root)
    if done:
        return "optimal", "gradient branch-and-bound complete: " + bab.note()
    if bab.stuck and not bab.heap and bab.dive is None:
        return "finished", "leaf regions too thin to certify or exclude: " + bab.note()
    return "time_limit", "gradient branch-and-bound stopped at the time limit: " + bab.note()


def root_bound(problem: Problem, tracker: Tracker, time_limit: float) -> Optional[GradientBounds]:
    """The engine's bound on the whole domain, offered to the tracker (the default pipeline's first bound
    after the product); None on a single point. Past `time_limit` the engine returns the bound so far."""
    if problem.trivial:
        return None
    res = bound_problem(problem, time_limit=max(time_limit, 0.0))
    tracker.offer_upper(res.upper)
    return res


def unstable_count(res: GradientBounds, sizes: List[int]) -> int:
    """Hidden neurons whose certified pre-activation bounds (the engine's) straddle 0."""
    return sum(int(np.count_nonzero((lo[:n] < 0) & (hi[:n] > 0))) for (lo, hi), n in zip(res.forward, sizes))


OPTIONS = opt.Options(opt.seed("random seed of the first sampling"))


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    """`method="bab"`: the product bound, a short sampling for a first lower bound, then the branch-and-bound."""
    root = root_bounds(problem.network, problem.domain, tracker.deadline)
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem, root, tracker.deadline)[0])
    settled = sampling_stage(problem, tracker, options["seed"], root)
    if settled is not None:
        return settled
    with tracker.stage("bab"):
        return gradient_search(problem, tracker)
