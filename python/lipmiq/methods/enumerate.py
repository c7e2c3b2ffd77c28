"""Exact constants by the region branch-and-bound (`method="enumerate"`, and the default pipeline's region stage).

Depth-first over the neurons, layer by layer. A node is a partial pattern with a point x strictly inside its
region (margin s > INTERIOR_TOL, `certify.regions`). Symbolic bounds with the decided neurons as priors fix
the neurons that are stable on the node's region; a branched neuron's child on x's side keeps x, and only the
other child needs an LP. Every complete region contributes its exact ||J||_{p->q} (certified at its interior
point for the lower bound). Before a child's LP, its partial pattern is bounded against the certified lower
bound: first by the interval Jacobian bound (`bounds.jacobian`, cheap and loose), then, where that fails, by the
gradient-bound engine (`bounds.gradient`, at its node setting `NODE_OPTIONS`, every forward step, with the parent's
pre-activation bounds as prior), on networks of more than ENGINE_NEURONS hidden neurons (`engine_prune`). A
subtree that cannot beat the lower bound is skipped, and its bound (at most the lower bound) joins the maximum;
one the engine proves empty (crossing certified bounds) is closed. The upper bound is that maximum, reported only
when the enumeration completes. Where the engine runs is measured as it goes (`_engine_pays`): on every child the
interval bound keeps, it cut the width series' 8-12-12-1 (l-inf) from 26,819 LPs to 9,040 (about twice as fast),
but made LipBaB's 10-30-30-30-3 (l2) 2.8 times slower (engine calls of about 3 ms closing 13 % of the subtrees);
no fixed threshold on the undecided neurons served both (4 or 8 on 8-12-12-1: 9,269 and 13,761 LPs).
"""
from __future__ import annotations

import math
import time
from typing import List, Optional, Tuple, Union

import numpy as np

from .. import options as opt
from ..bounds import NetworkBounds, pattern_norm_seconds, propagation, root_bounds, symbolic_seconds
from ..bounds.gradient import NODE_OPTIONS, Bounds, GradientBounds, bound_problem
from ..bounds.jacobian import pattern_norm, pattern_norm_bound
from ..certify.exact_regions import ExactRegions, affordable
from ..certify.regions import RegionLP, affine_forms, domain_centre, region_point
from ..certify.witness import certify
from ..domain import Ball, Box
from ..problem import Problem
from ..tolerances import INTERIOR_TOL
from ..tracker import Tracker
from .naive import naive_upper
from .patterns import global_one_layer


# The engine prunes the region stage's subtrees (`engine_prune="auto"`) on networks with more hidden neurons than
# this; on smaller ones it cost more than it saved. Default pipeline at 60 s, without / with the engine, one run
# after the other (2026-12-06): the cancer networks 30-32-32-{1,2} (64 neurons) 4.3-4.6 -> 2.4-2.8 s to exact;
# LipBaB's 10-30-30-30-3 (90) l1 / l-inf 0.95 / 1.25 -> 0.62 / 0.95 s, l2 1.24 -> 1.30 s; no change on the
# 44-48-neuron ExLipBaB networks (wine 11-24-24-1, bike 13-20-16-8-3); slower on the 18 degenerate fuzz queries
# (8-19 neurons, 4.5 -> 5.4 s in total), ExLipBaB's wine 11-12-12-1 (24, 1.1 -> 2.0 s) and abalone 9-16-16-1 (32,
# 0.91 -> 0.98 s). Where between 32 and 44 neurons the engine starts to pay was not measured.
ENGINE_NEURONS = 40
FACE_MARGIN = 1e-7  # a warm LP margin above -this (HiGHS's tolerance) reads as a face: the exact decision first


def undecided(g: List[np.ndarray]) -> int:
    """The number of undecided neurons (-1) of a partial pattern."""
    return sum(int(np.count_nonzero(gk < 0)) for gk in g)


class RegionEnumerator:
    """Depth-first enumeration of the activation regions of `problem` that meet its domain's interior."""

    def __init__(self, problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], prune: bool = True,
                 time_limit: float = math.inf, engine: Union[bool, str] = "auto"):
        self.problem, self.tracker = problem, tracker
        self.net = problem.network
        self.sizes = self.net.hidden_sizes
        self.root = bounds  # the problem's bounds (None: no symbolic stabilisation)
        self.symbolic_s, self.bound_s = symbolic_seconds(self.net), pattern_norm_seconds(self.net)  # estimates
        self.upper = 0.0
        self.prune = prune
        self.start = time.perf_counter()
        self.share_end = self.start + time_limit  # the stage's share; past it only while on track (`_limit`)
        self.deadline = tracker.deadline
        self.done = 0.0  # share of the pattern tree closed: a subtree at branching depth d weighs 2**-d
        self.pruned = 0  # subtrees whose Jacobian bound (interval or the engine's) could not beat the lower bound
        if engine == "auto":
            engine = sum(self.sizes) > ENGINE_NEURONS
        self.engine = engine and prune and not problem.trivial  # the engine's bound when the interval one fails
        self.engine_calls = self.engine_pruned = self.engine_empty = 0
        self.engine_time = 0.0
        # per number of undecided neurons of a child: engine calls, subtrees they closed, subtrees explored and
        # the seconds spent on them (`_engine_pays`)
        self.record = np.zeros((sum(self.sizes) + 1, 4))
        # neurons fixed by a float guess (constant pre-activation, `_node`), not a proof: free for the engine
        self.guessed = [np.zeros(h, dtype=bool) for h in self.sizes]
        self.regions = 0
        self.lps = 0
        self.stopped = False
        self.thin = 0  # regions neither proved empty nor with a point of margin > INTERIOR_TOL: kept, uncertified
        self.flat_domain = False  # a box coordinate too narrow for any region to be certified
        # LP points are kept only when their margin re-checks in float64 (`RegionLP.margin`); a 2-ball's LP is its
        # outer polyhedron, and region_point's cutting planes find the points its re-check rejects
        self.euclid = isinstance(problem.domain, Ball) and problem.domain.norm == 2.0
        self.lp = RegionLP(problem)
        exact = affordable(self.net.weights)
        self.exact = ExactRegions(self.net.weights, self.net.biases, problem.domain) if exact else None

    def _stabilise(self, g: List[np.ndarray], bounds: NetworkBounds) -> Optional[NetworkBounds]:
        """Fix undecided neurons that the region's symbolic bounds prove stable; returns the new bounds
        (None when they prove the region empty). A pass that would outlast the stage stops the search instead
        (a CIFAR-sized CNN: 1 s each)."""
        if self.symbolic_s > self._limit() - time.perf_counter():
            self.stopped = True
            return bounds
        new = propagation.symbolic(self.net, self.problem.domain, bounds.with_pattern(g))
        for k in range(len(g)):
            l, u = new.layers[k]
            if np.any(l > u):
                return None  # the relaxation proves the region empty
            und = g[k] < 0
            g[k][und & (l >= 0)] = 1
            g[k][und & (u <= 0)] = 0
        return new

    def _checked(self, x: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """x if its margin in the current partial region, recomputed in float64, exceeds INTERIOR_TOL."""
        return x if x is not None and self.lp.margin(x) > INTERIOR_TOL else None

    def _lp_child(self, g: List[np.ndarray], layer: int, decided: np.ndarray, lp_empty: bool, face: bool,
                  limit: float):
        """(point, proof) for the partial region (layers < layer fully decided, `decided` rows of `layer`) that the
        warm-started LP gave no point for (`lp_empty`: it found none at all; else its point failed the re-check,
        e.g. outside a 2-ball): an interior point from the exactly scaled LP (cutting planes for a 2-ball), or a
        proof of emptiness, decided by `limit`. On networks within its budget, the exact decision (guided by the
        warm-started LP's duals) settles what the float LP cannot: it comes first on a `face` (the warm LP's
        margin about 0, as on the degenerate faces of bias-free networks, where a float proof cannot exist),
        after the float LP's certified proof otherwise (about a second against an LP on a 30-32-32 network)."""
        self.lps += 1
        rows = np.flatnonzero(decided)
        weights = self.net.weights[:layer] + [self.net.weights[layer][rows]]
        biases = self.net.biases[:layer] + [self.net.biases[layer][rows]]
        pattern = [gk.astype(np.uint8) for gk in g[:layer]] + [g[layer][rows].astype(np.uint8)]
        dom = self.problem.domain
        if self.exact is None:
            point, _, proof = region_point(weights, biases, dom, pattern, limit)
            return self._checked(point), proof
        guess = self.lp.active() if lp_empty else None
        if face:
            proof = self.exact.decide(g[:layer + 1], limit, guess)
            if proof is not None:
                return None, proof
        point, _, proof = region_point(weights, biases, dom, pattern, limit, prove=not face or self.euclid, exact=False)
        point = self._checked(point)
        if point is None and proof is None and not face:
            proof = self.exact.decide(g[:layer + 1], limit, guess)
        return point, proof

    def _leaf(self, g: List[np.ndarray], x: np.ndarray) -> None:
        self.regions += 1
        value, up, v = pattern_norm(self.net, [gk.astype(np.uint8) for gk in g], self.problem.p, self.problem.q)
        self.upper = max(self.upper, up)
        if value > self.tracker.lower:
            self.tracker.offer_lower(certify(self.problem, x, v))

    def _dominated(self, g: List[np.ndarray], prior: Optional[List[Bounds]] = None,
                   free: Optional[int] = None) -> Tuple[bool, Optional[List[Bounds]]]:
        """(closed, prior). Closed when no completion of g can beat the certified lower bound, by the interval
        Jacobian bound or else (given g's number of undecided neurons `free`, where `_engine_pays`) the engine's:
        the subtree is skipped and its bound (at most the lower bound) joins `upper`, so the final maximum stays
        an upper bound; or when the engine proves g's set empty. `prior`: certified pre-activation bounds on a
        superset of g's set (the engine's, from an ancestor); returned tightened by the engine's call on g when
        it ran, for g's children."""
        lower = self.tracker.lower
        if not lower > 0.0:
            return False, prior
        if self.bound_s > self._limit() - time.perf_counter():  # the bound would outlast the stage (the CNN:
            self.stopped = True                                 # 6 s, the limit overrun by 7 s): stop the search
            return False, prior
        bound = pattern_norm_bound(self.net.weights, g, self.problem.p, self.problem.q)
        if bound > lower:
            if free is None or not self._engine_pays(free):
                return False, prior
            res = self._engine(g, prior)
            self.record[free, 0] += 1
            if res.empty:  # certified: no point of the domain has g's (closed) signs
                self.engine_empty += 1
                self.record[free, 1] += 1
                return True, prior
            if res.upper > lower:
                return False, res.forward
            self.record[free, 1] += 1
            bound = res.upper
            self.engine_pruned += 1
        self.upper = max(self.upper, bound)
        self.pruned += 1
        return True, prior

    def _engine_pays(self, free: int) -> bool:
        """Whether the engine's expected saving on a child with `free` undecided neurons, its rate of closing
        such subtrees times the mean time of exploring one, exceeds its mean cost (no fixed threshold paid on
        both the wide and the deep networks, module docstring); each count is tried at least once."""
        calls, closed, explored, spent = self.record[free]
        if calls == 0 or explored == 0:
            return True
        return (closed + 1) / (calls + 2) * spent / explored > self.engine_time / self.engine_calls

    def _engine(self, g: List[np.ndarray], prior: Optional[List[Bounds]]) -> GradientBounds:
        """The engine's bound on the regions with interior that agree with g (its branched and proved-stable
        neurons; a guessed one left free), at the engine's node setting (`NODE_OPTIONS`)."""
        states = [np.where(guess, -1, gk).astype(np.int8) for gk, guess in zip(g, self.guessed)]
        start = time.perf_counter()
        res = bound_problem(self.problem, states=states, prior=prior,
                            time_limit=max(self._limit() - start, 0.0), **NODE_OPTIONS)
        self.engine_time += time.perf_counter() - start
        self.engine_calls += 1
        return res

    def _limit(self) -> float:
        """The deadline of the search's next step: its share's end, or the time limit while the share of the tree
        closed so far projects completion (elapsed / done) before it. A complete search is exact where SCIP's
        closed problem may not even start to close (small bias-free networks, issue 14); a projection that
        slips stops the search at once, leaving SCIP the rest."""
        elapsed = time.perf_counter() - self.start
        on_track = self.done > 0 and self.start + elapsed / self.done < self.deadline
        return self.deadline if on_track else min(self.share_end, self.deadline)

    def _over(self) -> bool:
        return self.tracker.remaining() <= 0 or time.perf_counter() > self._limit()

    def _node(self, g: List[np.ndarray], x: np.ndarray, bounds, decided: List[np.ndarray],
              checked: bool = False, weight: float = 1.0, prior: Optional[List[Bounds]] = None) -> None:
        """`checked`: g's bound was already compared with the lower bound (before the child's LP); `weight`: the
        subtree's share of the pattern tree (`done` gains it when the subtree is closed); `prior`: the engine's
        pre-activation bounds on a superset of g's set."""
        if self.stopped or self._over():
            self.stopped = True
            return
        if bounds is not None:
            open_before = undecided(g)
            bounds = self._stabilise(g, bounds)
            if bounds is None:
                self.done += weight
                return
            checked = checked and undecided(g) == open_before
        if self.prune and not checked and self._dominated(g)[0]:
            self.done += weight
            return
        for k, gk in enumerate(g):
            und = np.flatnonzero(gk < 0)
            if und.size:
                break
        else:
            self._leaf(g, x)
            self.done += weight
            return
        j = int(und[0])
        A, c = affine_forms(self.net.weights, self.net.biases, g[:k + 1])[-1]
        a, cj = A[j], c[j]
        norm = float(np.linalg.norm(a))
        if norm == 0.0:  # constant pre-activation: no branching, no effect on J
            g[k][j] = 1 if cj > 0 else 0
            self.guessed[k][j] = True
            self._node(g, x, bounds, decided, weight=weight, prior=prior)
            g[k][j] = -1
            self.guessed[k][j] = False
            return
        z = float(a @ x + cj)
        side = 1 if z > 0 else 0
        for value in (side, 1 - side):
            if self.stopped:
                return
            child = [gk.copy() for gk in g]
            child[k][j] = value
            free = undecided(child) if self.engine else None  # the engine's measure (`_engine_pays`)
            closed, child_prior = self._dominated(child, prior, free) if self.prune else (False, prior)
            if closed:  # before its LP: most subtrees end here
                self.done += weight / 2
                continue
            start = time.perf_counter()
            dec = [d.copy() for d in decided]
            dec[k][j] = True
            self.lp.push(a, cj, 2.0 * value - 1.0, (k, j))
            if value == side and abs(z) / norm > INTERIOR_TOL:
                point = x
            else:
                self.lps += 1
                limit = self._limit()
                point, margin = self.lp.solve(limit)
                face = point is None and margin > -FACE_MARGIN  # a face (max margin ~ 0), not clearly empty
                lp_empty = point is None
                point = self._checked(point)
                if point is None:  # re-decide: prune only proved-empty regions
                    point, proof = self._lp_child(child, k, dec[k], lp_empty, face, limit)
                    if point is None and proof is None:
                        if time.perf_counter() >= limit:
                            self.stopped = True
                        else:  # too thin to certify, or undecided: kept, its subtree counts in the upper bound
                            self.thin += 1
                            point = x
            if point is not None:
                self._node(child, point, bounds, dec, checked=self.prune, weight=weight / 2, prior=child_prior)
            elif not self.stopped:  # proved empty
                self.done += weight / 2
            self.lp.pop()
            if free is not None:
                self.record[free, 2:] += (1, time.perf_counter() - start)

    def run(self) -> bool:
        """Enumerate; True when every region was visited (then `upper` is the exact maximum)."""
        g = [np.full(h, -1, dtype=np.int8) for h in self.sizes]
        decided = [np.zeros(h, dtype=bool) for h in self.sizes]
        x0, _ = domain_centre(self.problem)
        bounds = self.root
        if bounds is not None and isinstance(self.problem.domain, Box):
            hull = self.problem.domain.box_hull()
            if np.any(hull[1] - hull[0] <= 2 * INTERIOR_TOL):
                self.flat_domain = True  # the whole domain is too thin to certify a region: reported as such
                return False
        self._node(g, x0, bounds, decided)
        return not self.stopped


def region_search(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], time_limit: float = math.inf,
                  prune: bool = True, engine: Union[bool, str] = "auto") -> Tuple[str, str]:
    """Region branch-and-bound: every region that meets the domain's interior, except the subtrees whose
    Jacobian bound (interval, or the engine's where `engine`; "auto": past ENGINE_NEURONS hidden neurons) cannot
    beat the certified lower bound and the regions proved empty. A region that is neither proved empty nor
    certified (thinner than INTERIOR_TOL, or undecided) is kept: its subtree joins the upper bound without a
    witness. 'optimal' (complete: the upper bound offered is the maximum over every region kept), 'finished'
    (complete, but kept thin regions leave a gap), 'time_limit', or 'error' when a box coordinate is too narrow
    for any region to be certified."""
    enum = RegionEnumerator(problem, tracker, bounds, prune=prune, time_limit=time_limit, engine=engine)
    start = time.perf_counter()
    complete = enum.run()
    tracker.count(regions=enum.regions, region_lps=enum.lps, pruned_subtrees=enum.pruned)
    note = f"{enum.regions} regions, {enum.pruned} subtrees pruned, {enum.lps} LPs, {time.perf_counter() - start:.2f} s"
    if enum.engine_calls:
        note += (f", {enum.engine_calls} engine calls ({enum.engine_time:.2f} s) pruned {enum.engine_pruned} subtrees "
                 f"and proved {enum.engine_empty} empty")
    if enum.thin:
        note += f", {enum.thin} regions thinner than {INTERIOR_TOL:g} kept uncertified"
    if complete:
        tracker.offer_upper(enum.upper)
        if enum.thin and not tracker.exact:
            return "finished", "region enumeration complete, the gap is in regions too thin to certify: " + note
        return "optimal", "region enumeration complete: " + note
    if enum.flat_domain:
        return "error", f"the box is thinner than {2 * INTERIOR_TOL:g} in a coordinate: no region can be certified: " + note
    return "time_limit", "region enumeration stopped at the time limit: " + note


OPTIONS = opt.Options(
    opt.Option("symbolic", opt.flag, True, "symbolic bounds fix the neurons that are stable on a node's region"),
    opt.Option("prune", opt.flag, True, "skip the subtrees whose Jacobian bound cannot beat the lower bound"),
    opt.Option("engine_prune", opt.flag_or_auto, "auto",
               "where the interval Jacobian bound fails to prune, try the gradient-bound engine's bound (auto: on "
               f"networks of more than {ENGINE_NEURONS} hidden neurons, where it was measured to pay)"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    """`method="enumerate"`: exact by pattern branch-and-bound where it applies, else by regions."""
    root = root_bounds(problem.network, problem.domain, tracker.deadline)
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem, root, tracker.deadline)[0])
    with tracker.stage("patterns"):
        status = global_one_layer(problem, tracker, tracker.remaining())
    if status == "optimal":
        return status, "one hidden layer on R^n, every pattern realisable: pattern branch-and-bound"
    with tracker.stage("regions"):
        return region_search(problem, tracker, root if options["symbolic"] else None, prune=options["prune"],
                             engine=options["engine_prune"])
