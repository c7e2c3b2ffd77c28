"""The default method: the naive product, the gradient-bound engine's bound and sampled bounds, hill climbs
over patterns (after the engine's search on small shallow networks, which it usually closes alone) and LipSDP's
bound (p = 2), a branch-and-bound on a share of the time for networks with many unstable neurons (or wide
ones: the engine's, or LipSDP's on slopes where its bound is the lower), the
pattern branch-and-bound, the region branch-and-bound on a share of the time (they close small and mostly stable networks
outright), the engine's branch-and-bound after them on deeper mid-sized networks (before them on shallow ones),
then the MIQCQP with SCIP, its nodes bounded by the engine too (`solvers.propagator`):
the closed problem for the upper bound (with no-good cuts on optimal patterns proved to have no
interior), then, if a gap remains, the strict problem for the lower bound.

Every incumbent is mapped back to the problem's coordinates through the reduction chain and certified
(`certify.solutions`); only the closed problem's dual bound, inflated for tolerances, is ever reported as
an upper bound.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .. import options as opt
from ..bounds import root_bounds
from ..certify.regions import emptiness_proof
from ..certify.solutions import certify_solution
from ..certify.witness import pattern_at
from ..domain import Global
from ..formulation.model import Formulation
from ..problem import Problem
from ..reductions import for_scip, reduce
from ..reductions.chain import Chain
from ..solvers import scip
from ..solvers.propagator import JacobianBoundProp
from ..tracker import Tracker
from .bab import gradient_search, root_bound, unstable_count
from .enumerate import region_search
from .lipsdp import applies as sdp_applies, sdp_branch, sdp_root
from .naive import naive_upper
from .patterns import pattern_search
from .sample import climb_stage, sample_stage

OPTIONS = opt.Options(
    opt.encoding(),
    opt.tighten("lp"),
    opt.gap(),
    opt.seed(),
    opt.Option("region_share", opt.real(0.0, 1.0), 0.25,
               "share of the remaining time for the region branch-and-bound before SCIP, longer while on track to "
               "complete (0 skips it)"),
    opt.Option("pattern_time", opt.real(0.0), 5.0,
               "seconds at most for each search over patterns: the hill climbs after sampling (2 s, 2 % of the "
               "time on long runs) and the pattern branch-and-bound (0 skips both)"),
    opt.Option("gradient_share", opt.real(0.0, 1.0), 0.1,
               "share of the remaining time at most for the gradient-bound engine's first bound (0 skips it)"),
    # 0.95: where it runs first (past the regions' reach) the stages after it rarely move a bound (bench/README.md,
    # 2026-12-05, fifth session); 64-48-48-1 pt0 l2 closes in 56 s at 60 (at 0.85: 7.8168 / 7.9072, exact in 57 s)
    opt.Option("bab_share", opt.real(0.0, 1.0), 0.95,
               "share of the remaining time for the engine's branch-and-bound before the regions (0 skips it)"),
    opt.Option("sdp_share", opt.real(0.0, 1.0), 0.1,
               "share of the remaining time at most for LipSDP's first bound (p = 2; 0 skips it); its "
               "branch-and-bound replaces the engine's when that bound is the lower one"),
    opt.Option("bab_unstable", opt.integer(0), 40,
               "unstable neurons above which the engine's branch-and-bound runs (it also runs on deeper or wider "
               "networks: BAB_NEURONS)"),
)
# Past this many hidden neurons, regions and SCIP stall even with fewer unstable neurons (784-256-256-1 with
# about 30 unstable): the engine's branch-and-bound runs first. Networks with more than MID_UNSTABLE unstable
# neurons get it after the region stage, which closes the small ones (LipBaB's 10-30-30-30-3 in 2 s, after a
# time-out with the engine first; the degenerate fuzz networks 2-2-2-9-1 and 3-6-6-7-2 in 0.05 and 0.9 s, after
# 3.8 and 9.5 s) and hands the others over at its share (64-32-32-32-32-1 with 30 unstable). On two hidden
# layers too: the [8, w, w, 1] series at 60 s (load 5) closed w = 12 (l2, l-inf) and w = 14 (l-inf) in 23-46 s,
# against none with SCIP after the regions (w = 16: l2 upper 4.22 against 6.96, l-inf 10.2 against 15.9).
BAB_NEURONS = 256
MID_UNSTABLE = 20
# ... except on at most this many hidden layers, where the engine's search comes first on mid-sized networks
# too: once the first layer is decided its prefix LPs see every constraint but the last layer's, and with vertex
# sign splits (p = inf) it closed the [8, w, w, 1] series w = 12 / 14 in 0.2 / 0.5 s (l-inf) and 0.7 / 3.6 s (l2),
# w = 16 in 30 / 13 s, where the regions took 5-11 s on w = 12 / 14 and 14.7 s on w = 16 without closing. On
# LipBaB's 10-30-30-30-3 (three hidden layers) the regions close in 0.5 s what the engine's search does not.
# With at most MID_UNSTABLE unstable neurons too, on a bounded domain and on SMALL_SHARE of the time: [8, 8, 8, 1] and
# [8, 10, 10, 1] closed in 0.18-0.32 s against 0.18-1.23 s by the regions (which ran 0.06-1.06 s there); the published
# exact queries did not move (bench_exact.py). Not on R^n, where the homogenised box's bounds steer the search badly:
# a bias-free [6, 8, 8, 2], p = 2, q = inf, was closed by the regions in 2.0 s and left open at 5 s behind the search
# (review finding; on 100 such small networks, 16.5 s in total on R^n against 7.6 s with the regions first); the share
# leaves the regions most of the time where the search stalls. On 60 small two-layer networks (2-6 inputs, widths
# 6-10, random, bias-free and degenerate, boxes, balls and R^n) 9.3 s in total against 8.2 s with the regions first:
# 0.05-0.1 s more per bias-free or degenerate query on a box.
# Nor on more inputs than ENGINE_FIRST_INPUTS: the cancer networks 30-32-32-{1,2} (30 inputs) closed by the regions
# in 3.4-3.5 s, in 15-36 s with the engine's search first (54 s before its split multipliers).
# The hill climbs wait for that search on the small ones and run only if it does not close (LipSDP's root did too
# while its barrier ran in numpy; in the core it costs 1-5 ms there and its node bounds prune the search): on 30
# small two-layer queries (the [8, w, w, 1] series w = 8-12 at p = q = 2, inf; six random networks of 3-12 inputs,
# boxes and 2-balls, four (p, q) pairs each) 39.6 s in total against 42.8 s with them first, the same values, 28 of
# 30 faster and two 1-2 % slower (w = 8 / 10, p = 2: 0.08 / 0.17 s against 0.11 / 0.22 s): the search's dives reach
# leaves, and their witnesses, quickly there.
ENGINE_FIRST_DEPTH = 2
ENGINE_FIRST_INPUTS = 12
SMALL_SHARE = 0.25


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    root = root_bounds(problem.network, problem.domain, tracker.deadline)  # shared by every stage
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem, root, tracker.deadline)[0])
    engine = None
    if options["gradient_share"] > 0.0:
        with tracker.stage("gradient"):
            engine = root_bound(problem, tracker, options["gradient_share"] * tracker.remaining())
    sizes = problem.network.hidden_sizes
    unstable = 0 if engine is None else unstable_count(engine, sizes)
    big = unstable > options["bab_unstable"] or sum(sizes) > BAB_NEURONS  # past the regions' reach: engine first
    mid = unstable > MID_UNSTABLE  # the regions first (they may close it), then the engine
    shallow = len(sizes) <= ENGINE_FIRST_DEPTH and problem.network.input_dim <= ENGINE_FIRST_INPUTS
    # at most MID_UNSTABLE unstable neurons: first too on a bounded domain, on a smaller share (SMALL_SHARE)
    small = shallow and engine is not None and not mid and unstable > 0 and not isinstance(problem.domain, Global)
    # the small search runs on SMALL_SHARE, and the hill climbs come after it, which closes sooner
    # without them (see above)
    later = small and not big and options["bab_share"] > 0.0
    climb_time = options["pattern_time"]  # a cap on the climbs' own limit (`sample.climb_time_limit`)
    starts = sample_stage(problem, tracker, options["seed"])
    settled = climb_stage(problem, tracker, root, starts, 0.0 if later else climb_time)
    if settled is not None:
        return settled
    wants_sdp = options["sdp_share"] > 0.0 and sdp_applies(problem) and not problem.trivial
    sdp = _lipsdp(problem, tracker, root, options) if wants_sdp else None
    if sdp is not None and tracker.exact:
        return "optimal", "LipSDP's bound met the lower bound"
    # LipSDP's branch-and-bound in the engine's place where its bound is the lower (the global digits_fnn3
    # queries: 9.73 at the root where the engine's never left the product, 14.7, in 51 s of branching)
    slopes = sdp if sdp is not None and sdp.bound < (engine.upper if engine is not None else tracker.upper) else None
    search = options["bab_share"] > 0.0 and (slopes is not None or engine is not None)
    # the engine's search, or LipSDP's without the engine or on R^n (see _branch_and_bound)
    engine_search = engine is not None and (slopes is None or not isinstance(problem.domain, Global))
    first = big or (mid and shallow and engine_search) or small
    if search and first:
        share = min(options["bab_share"], SMALL_SHARE) if later else options["bab_share"]
        status, note = _branch_and_bound(problem, tracker, share, engine, slopes, engine_search)
        if status == "optimal":
            return status, note
    if later:
        settled = climb_stage(problem, tracker, root, starts, climb_time)
        if settled is not None:
            return settled
    if options["pattern_time"] > 0.0:
        with tracker.stage("patterns"):
            patterns = pattern_search(problem, tracker, root, min(options["pattern_time"], 0.2 * tracker.remaining()))
        if patterns == "optimal":
            return "optimal", "pattern branch-and-bound closed the gap (every pattern realisable or best pattern realised)"
    if options["region_share"] > 0.0:
        with tracker.stage("regions"):
            # the engine prunes its subtrees on the networks where that pays, unless the engine is switched off
            status, note = region_search(problem, tracker, root, options["region_share"] * tracker.remaining(),
                                         engine="auto" if options["gradient_share"] > 0.0 else False)
        if status in ("optimal", "finished"):  # finished: complete, the gap is in regions too thin to certify
            return status, "region branch-and-bound " + ("closed the gap" if status == "optimal" else "completed") + f" ({note})"
    if search and mid and not first:
        status, note = _branch_and_bound(problem, tracker, options["bab_share"], engine, slopes, engine_search)
        if status == "optimal":
            return status, note
    if tracker.remaining() <= 0:
        return "time_limit", "time limit reached before the MIQCQP"
    with tracker.stage("tightening"):
        plan, chain = reduce(problem, root, options["tighten"], min(20.0, 0.15 * tracker.remaining()),
                             deadline=tracker.deadline)
    tracker.note(unstable_neurons=plan.n_unstable)
    with tracker.stage("scip"):
        return _Search(problem, plan, chain, tracker, options["encoding"], options["gap"], options["seed"]).run()


def _lipsdp(problem: Problem, tracker: Tracker, root, options: dict):
    """LipSDP's root node (p = 2), its bound offered to the tracker, on `sdp_share` of the remaining time."""
    with tracker.stage("sdp"):
        return sdp_root(problem, tracker, root, options["sdp_share"] * tracker.remaining())


def _branch_and_bound(problem: Problem, tracker: Tracker, share: float, engine, sdp,
                      engine_search: bool) -> Tuple[str, str]:
    """The engine's branch-and-bound (`engine_search`) on `share` of the remaining time, its nodes also bounded
    by LipSDP when `sdp` (LipSDP's root node) is given; otherwise LipSDP's own branch-and-bound, used without the
    engine or on R^n, where the engine's bounds stay near the product and steer its branching badly
    (digits_fnn3_seed0 at 60 s: 9.6533 against 9.6734, the lower bound 9.6515; it closed in 34.5 s at load 3):
    'optimal' when the bounds met."""
    if not engine_search:
        with tracker.stage("sdp_bab"):
            _, note = sdp_branch(problem, tracker, sdp, share * tracker.remaining())
    else:
        with tracker.stage("bab"):
            _, note = gradient_search(problem, tracker, share * tracker.remaining(), engine, sdp)
    return ("optimal" if tracker.exact else "time_limit"), note


class _Search:
    """The SCIP stage: closed problem, then strict problem, on the plan rescaled for SCIP."""

    def __init__(self, problem: Problem, plan, chain: Chain, tracker: Tracker, encoding: str, gap: float, seed: int):
        self.problem, self.plan, self.tracker = problem, plan, tracker
        self.model_plan, self.chain = for_scip(plan, chain, tracker.lower)
        self.encoding, self.gap, self.seed = encoding, gap, seed
        self.nogoods = self.engine_calls = 0

    def _formulation(self, strict: bool) -> Formulation:
        form = Formulation(self.model_plan, self.problem.p, self.problem.q, strict=strict, encoding=self.encoding,
                           deadline=self.tracker.deadline)
        w = self.tracker.witness
        if w is not None:  # warm start at the certified witness
            x = w.x[self.problem.free]
            g, _ = pattern_at(self.problem.network, x, np.arange(x.size))
            xp = self.chain.point_forward(x)
            if g is not None and xp is not None:
                form.set_start(xp, w.v[self.problem.free], self.chain.pattern_forward(g))
        return form

    def _on_solution(self, form: Formulation):
        def handle(sol) -> None:
            point = form.point(sol)
            self.tracker.offer_lower(certify_solution(self.problem, self.chain, point.x, point.v, point.g,
                                                      self.tracker.deadline))
        return handle

    def _on_dual(self, form: Formulation):
        return lambda dual: self.tracker.offer_upper(self.chain.value(scip.inflate(form.to_norm(scip.upper_from_dual(dual)))))

    def _solve(self, form: Formulation, closed: bool, resolve=None) -> scip.Outcome:
        prop = JacobianBoundProp(form)
        outcome = scip.solve(form.model, self.tracker.deadline, self._on_solution(form),
                             self._on_dual(form) if closed else None, gap=self.gap, seed=self.seed,
                             propagator=prop, resolve=resolve)
        self.tracker.count(scip_nodes=outcome.nodes)
        self.engine_calls += prop.engine_calls
        return outcome

    def run(self) -> Tuple[str, str]:
        status, note = self._closed()
        if status == "interrupted" or self.tracker.exact or self.tracker.remaining() <= 0:
            return status, note
        strict_status = self._strict()
        if self.tracker.exact:
            return "optimal", note + "; strict problem closed the gap"
        return strict_status if strict_status != "optimal" else status, note

    def _closed(self) -> Tuple[str, str]:
        form = self._formulation(strict=False)
        kept = []

        def cut_empty_pattern(model) -> bool:
            """Cut the optimal pattern when its region provably has no interior; keep it otherwise. Where the
            decision is exact (docs/reliability.md, "Bias-free and degenerate networks") each round cuts the
            optimum, so the loop ends on a pattern with interior, and the optimum is L."""
            if self.tracker.exact:
                return False
            best = form.point(model.getBestSol())
            proof = emptiness_proof(self.problem, self.chain.pattern(best.g), self.tracker.deadline)
            if proof is None:
                kept.append(True)
                return False
            # one pattern per cut: the family cut by the proof's neurons (Proof.nogood mapped by the chain) let
            # SCIP's dual bound fall below a certified lower bound on R^n (4.82 < 5.28, random_net(7, [3, 4, 3, 2]),
            # p = q = 1, SCIP 10.0.0), so its mapping through the reductions is not trusted until proved
            scip.free_transform(model)
            form.add_nogood(best.g)
            self.nogoods += 1
            return True

        outcome = self._solve(form, closed=True, resolve=cut_empty_pattern)
        note = f"{self.plan.n_unstable} unstable neurons, {self.encoding} encoding"
        if self.engine_calls:
            note += f", {self.engine_calls} nodes bounded by the engine"
        if self.nogoods:
            note += f", {self.nogoods} empty-interior patterns cut"
        if outcome.dual is None:
            # Every real pattern is feasible, so this is numerical trouble: no upper bound from it.
            return "error", note + f"; SCIP reported the closed problem {outcome.raw} (numerical trouble)"
        if kept:
            note += "; the optimal pattern's region was not certified (too thin or tolerance) and is kept"
        return ("optimal" if self.tracker.exact else outcome.status), note

    def _strict(self) -> str:
        form = self._formulation(strict=True)
        outcome = self._solve(form, closed=False)
        if outcome.raw == "infeasible":
            # No point keeps every unstable pre-activation eps away from 0 (e.g. a neuron constant at 0 on
            # every region): a property of the network, not a solver failure; the bounds stand as they are.
            return "optimal"
        return outcome.status
