"""Every numerical tolerance of lipmiq, named for what it allows for, with its reason.

Distinct allowances stay distinct even where their values agree: each covers a different error, and
merging two would change a bound or its proof. docs/reliability.md tabulates them and
tests/test_tolerances.py checks that table against this module.
"""
from __future__ import annotations

UNIT_ROUNDOFF = 2.0 ** -53
"""float64 unit roundoff u: Higham's gamma_n = n u bounds the error of an n-term sum."""

# ---- bounds computed in float64 -----------------------------------------------------------------
PROPAGATION_RTOL = 1e-10
"""Outward widening of the core's interval and symbolic bounds (rounded to nearest, not outward): a
constant neuron could otherwise get lo > hi by an ulp, or a stable sign it does not have."""

NORM_RTOL = 1e-10
"""Relative inflation of an operator norm computed in float64 (LAPACK, summation, the Jacobi eigenvalue
of one matrix) before it is reported as an upper bound."""

ROUNDING_RTOL = 1e-12
"""Relative rounding of one float64 operation on an already certified value: per factor of a product of
layer norms (the naive bound), the square root of a certified LipSDP rho."""

PROJECTION_RTOL = 1e-12
"""A point projected onto a ball is pulled this much (relative) inside the sphere, so that rounding cannot
leave it outside."""

JACOBIAN_BOUND_RTOL = 1e-9
"""Relative inflation of the interval Jacobian bound: rounding of the interval products and of the
Jacobi eigenvalue of the majorant (region pruning, SCIP's node propagator)."""

INTERVAL_SUM_RTOL = 1e-12
"""Rounding of one interval dot product, relative to the sum of the magnitudes of its terms
(the monotonicity analysis's entry bounds, which must keep exact signs)."""

# ---- certification of lower bounds --------------------------------------------------------------
WITNESS_MARGIN_RTOL = 1e-10
"""A witness's pre-activations must exceed this times sum |W||a| + |b| in magnitude: far above float64
rounding, so the activation pattern is constant on a neighbourhood of x."""

WITNESS_VALUE_RTOL = 1e-12
"""Relative shrink of a witness's value for the rounding of ||J v||_q and ||v||_p (the cancellation in J
itself has its own absolute allowance, rounding_gamma)."""

EXACT_OPS = 200_000
"""Rational multiply-adds allowed per neuron when a witness proves a gradient exactly zero."""

# ---- activation regions ---------------------------------------------------------------------------
INTERIOR_TOL = 1e-9
"""A region LP's margin s must exceed this (in the LP's units) for its point to count as interior."""

UNBOUNDED_LP_MARGIN = 1e-6
"""On R^n (x unbounded, no finite dual bound), HiGHS's scaled optimum below -this is accepted as a
region's emptiness: far beyond its 1e-7 tolerances, but a robust verdict, not a proof."""

EXACT_REGION_OPS = 5_000_000
"""Integer multiply-adds allowed for one exact region decision (the pattern's affine forms and the exact
simplex, `certify.exact_regions.affordable`): small networks get exact verdicts where the float LP's margin is ~0;
larger ones keep the float verdicts."""

RANK_RTOL = 1e-10
"""Singular values below this times the largest count as zero (independent rows of W_1)."""

# ---- SCIP -------------------------------------------------------------------------------------------
SCIP_DUAL_RTOL = 2e-7
"""Relative inflation of SCIP's dual bound against its feasibility (1e-7, below) and LP tolerances."""

SCIP_DUAL_ATOL = 1e-8
"""Added to SCIP's dual bound in objective space: SCIP compares objective values with an absolute
epsilon of 1e-9, so a tiny objective (a 1e-6-scaled network, squared) could sit that far below it."""

SCIP_FEASTOL = 1e-7
"""SCIP's feasibility tolerance in lipmiq's models: the tolerance-relaxed optimum exceeds the true one by
about this much relative (||v||_2 <= 1 + feastol), which keeps exact cases within EXACT_RTOL."""

SCIP_BOUND_ALLOWANCE = 1e-6
"""Bounds handed to SCIP that an optimum can attain exactly (the direction variables' w and y, the propagator's
bound on the objective) are widened outward by this times max(|bound|, 1), SCIP's own scale of comparison.
SCIP's linear propagation clips a new bound into [lb, ub] when within feastol (1e-7 here), while its nonlinear
interval propagation rejects a gap beyond epsilon (1e-9): on lipbab_sdnet_10-20-15-10-3 (p = q = 1) the optimum sat
exactly on an engine direction bound, a direction variable was fixed 1.5e-9 off its value and the optimum was cut
(45.757 < L = 48.049). Ten times feastol keeps the chain's slack positive; a wider bound is always valid."""

SCIP_GAP = 1e-7
"""Default relative gap at which SCIP stops (the `gap` option)."""

ENTRY_DUAL_ATOL = 1e-9
"""Absolute allowance on SCIP's dual bound of one Jacobian entry (monotonicity), relative to the size
of the entry's interval bound."""

STRICT_RTOL = 1e-5
"""The strict problem's margin epsilon, relative to an unstable neuron's pre-activation range: large
enough for SCIP's tolerances, small enough to keep every region of ordinary width."""

# ---- results ----------------------------------------------------------------------------------------
EXACT_RTOL = 1e-6
"""Bounds meet (`exact`) when upper - lower <= EXACT_RTOL * max(1, upper) (CONVENTIONS)."""

CONSISTENCY_RTOL = 1e-9
"""A lower bound above upper * (1 + this) contradicts it: the upper bound is dropped as numerical trouble."""

RADIUS_RTOL = 1e-9
"""Relative shrink of a certified robustness radius against the rounding of margins and divisions."""
