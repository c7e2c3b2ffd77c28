"""The LipSDP-Neuron baseline (Fazlyab et al. 2019): a global l2 upper bound from one semidefinite programme.

For ReLU (slope-restricted in [0, 1]) and diagonal T_k >= 0, L_2 <= sqrt(rho) whenever the block-tridiagonal
matrix over (x_0, x_1, ..., x_{L-1})

    M(rho, T) = [[-rho I,  W_1^T T_1,                                 ],
                 [T_1 W_1, -2 T_1,     W_2^T T_2,                     ],
                 [         T_2 W_2,    -2 T_2,     ...                ],
                 [                      ...,  -2 T_{L-1} + W_L^T W_L  ]]

is negative semidefinite. Biases do not enter (the bound is global, so valid on every domain).
The SDP solver only proposes T: the reported rho is recomputed in float64 for that T (Schur complement, then
an eigenvalue check of M with a margin covering rounding and the eigensolver's error), so the bound is
certified whatever the solver's accuracy. For the solver only: W_1 = U S V^T is replaced by U S (x_0 outside
range(V) meets only the -rho I block, so the LMI is equivalent and n_0 shrinks to rank W_1), and layers are
rescaled to unit spectral norm; T is mapped back to the original weights before the check.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Tuple

import numpy as np

from .. import options as opt
from ..domain import Global
from ..errors import InputError
from ..norms import norm_name, opnorm_upper
from ..problem import Problem
from ..tolerances import ROUNDING_RTOL
from ..tracker import Tracker

EPS = np.finfo(np.float64).eps
ETAS = (1e-7, 1e-5, 1e-3)  # strict-feasibility margins asked of the solver, in the rescaled problem


def check_query(problem: Problem) -> None:
    if problem.p != 2.0 or (problem.network.output_dim > 1 and problem.q != 2.0):
        raise InputError(f"method 'lipsdp' bounds p = q = 2 (or p = 2 with a scalar output); got "
                         f"p = {norm_name(problem.p)}, q = {norm_name(problem.q_requested)}")


def lmi(weights: List[np.ndarray], T: list, rho, diag: Callable, bmat: Callable, eye: Callable):
    """M(rho, T) from blocks; `diag`, `bmat` and `eye` are numpy's or cvxpy's, so one builder serves both."""
    sizes = [W.shape[1] for W in weights]
    blocks = [[np.zeros((a, b)) for b in sizes] for a in sizes]
    blocks[0][0] = -rho * eye(sizes[0])
    for k in range(1, len(weights)):
        Tk, W = diag(T[k - 1]), weights[k - 1]
        blocks[k - 1][k] = W.T @ Tk
        blocks[k][k - 1] = Tk @ W
        blocks[k][k] = -2.0 * Tk
    last = len(weights) - 1
    blocks[last][last] = blocks[last][last] + weights[-1].T @ weights[-1]
    return bmat(blocks)


def _numpy_lmi(weights: List[np.ndarray], T: List[np.ndarray], rho: float) -> np.ndarray:
    return lmi(weights, T, rho, np.diag, np.block, np.eye)


def certified_rho(weights: List[np.ndarray], T: List[np.ndarray]) -> Optional[float]:
    """The smallest rho (up to a small margin) with M(rho, T) <= 0 proved in float64; None if no rho works."""
    n0 = weights[0].shape[1]
    M0 = _numpy_lmi(weights, T, 0.0)
    C, D = M0[:n0, n0:], M0[n0:, n0:]
    if np.max(np.linalg.eigvalsh(D)) >= 0.0:
        return None
    S = -C @ np.linalg.solve(D, C.T)
    rho = max(float(np.max(np.linalg.eigvalsh((S + S.T) / 2.0))), 0.0)
    WL = np.abs(weights[-1])
    rounding = float(np.linalg.norm(WL.T @ WL)) + 2.0 * float(np.linalg.norm(C))
    step = max(rho * 1e-9, 1e-14 * (float(np.linalg.norm(M0)) + 1e-300))
    for _ in range(80):
        rho_try = rho + step
        M = _numpy_lmi(weights, T, rho_try)
        tau = 4.0 * M.shape[0] * EPS * (float(np.linalg.norm(M)) + rounding)
        if float(np.max(np.linalg.eigvalsh(M))) <= -tau:
            return rho_try
        step *= 4.0
    return None


def _rescale(weights: List[np.ndarray]) -> Tuple[List[np.ndarray], np.ndarray]:
    """Layers of unit spectral norm and the cumulative scales S_k = s_1 ... s_k (S_0 = 1)."""
    s = np.array([max(float(np.linalg.norm(W, 2)), 1e-300) for W in weights])
    return [W / sk for W, sk in zip(weights, s)], np.concatenate([[1.0], np.cumprod(s)])


def _compress_input(weights: List[np.ndarray]) -> List[np.ndarray]:
    """W_1 = U S V^T -> U S when the input is wider than the first layer (an equivalent, smaller LMI)."""
    W1 = weights[0]
    if W1.shape[1] <= W1.shape[0]:
        return list(weights)
    U, s, _ = np.linalg.svd(W1, full_matrices=False)
    return [U * s] + list(weights[1:])


def solve_sdp(weights: List[np.ndarray], eta: float, time_limit: float,
              solvers: Tuple[str, ...] = ("CLARABEL", "SCS")) -> Optional[List[np.ndarray]]:
    """T proposed by the SDP solver for the compressed, rescaled network, mapped back to the original weights."""
    import cvxpy as cp

    scaled, S = _rescale(_compress_input(weights))
    T = [cp.Variable(W.shape[0], nonneg=True) for W in scaled[:-1]]
    rho = cp.Variable(nonneg=True)
    M = lmi(scaled, T, rho, cp.diag, cp.bmat, np.eye)
    N = M.shape[0]
    problem = cp.Problem(cp.Minimize(rho), [(M + M.T) / 2.0 << -eta * np.eye(N)])
    limits = {"CLARABEL": {"time_limit": time_limit}, "SCS": {"time_limit_secs": time_limit, "eps": 1e-7}}
    for solver in solvers:
        opts = limits.get(solver, {})
        if solver not in cp.installed_solvers():
            continue
        try:
            problem.solve(solver=solver, **opts)
        except cp.error.SolverError:
            continue
        if all(t.value is not None for t in T):
            L = len(weights)
            return [np.maximum(np.asarray(t.value, dtype=np.float64), 0.0) * S[L] ** 2 / S[k + 1] ** 2
                    for k, t in enumerate(T)]
    return None


def lipsdp_upper(weights: List[np.ndarray], time_limit: float = 60.0,
                 solvers: Tuple[str, ...] = ("CLARABEL", "SCS")) -> Tuple[float, str]:
    """A certified global l2 Lipschitz bound of the bias-free network with these weights."""
    if len(weights) == 1:
        return opnorm_upper(weights[0], 2.0, 2.0), "no hidden layer: spectral norm"
    try:
        import cvxpy  # noqa: F401
    except ImportError:
        raise InputError("method 'lipsdp' needs cvxpy: pip install 'lipmiq[sdp]'") from None
    for eta in ETAS:
        T = solve_sdp(weights, eta, time_limit, solvers)
        if T is None:
            return math.inf, "the SDP solver returned no T"
        rho = certified_rho(weights, T)
        if rho is not None:
            return math.sqrt(rho) * (1.0 + ROUNDING_RTOL), f"LipSDP-Neuron, certified in float64 (solver margin {eta:g})"
    return math.inf, "no solver T could be certified"


OPTIONS = opt.Options(
    opt.Option("sdp_solver", opt.choice("clarabel", "scs"), "clarabel", "SDP solver tried first (the other one next)"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    check_query(problem)
    solver = options["sdp_solver"].upper()
    solvers = (solver,) + tuple(s for s in ("CLARABEL", "SCS") if s != solver)
    with tracker.stage("sdp"):
        value, note = lipsdp_upper(problem.network.weights, max(tracker.remaining(), 1.0), solvers)
        tracker.offer_upper(value)
    if not isinstance(problem.domain, Global):
        note += ("; the bound is global (LipSDP uses neither biases nor the domain): valid on this "
                 f"{type(problem.domain).__name__.lower()} as on all of R^n, not tightened to it")
    return ("finished" if math.isfinite(value) else "error"), note
