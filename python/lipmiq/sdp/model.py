"""LipSDP-Neuron (Fazlyab et al. 2019) for a network whose hidden neurons each have a slope set: [0, 1]
(free), {0} or {1} (fixed by the domain or by branching).

A fixed neuron is eliminated: at 0 it vanishes, at 1 its output is its pre-activation, a linear function
of the layer below. What remains is a quadratic form in z = (x_0, the free neurons' outputs), in which
every pre-activation u_j = w_j . z is linear. For multipliers t >= 0 and rho,

    M(rho, t) = U^T U - rho E_0 + sum_j t_j A_j,   A_j = 2 e_j w_j^T sym - 2 e_j e_j^T  (from 2 v_j (u_j - v_j)),

with U the output map and E_0 the projector on x_0. M <= 0 gives ||U z|| <= sqrt(rho) ||x_0|| whenever
every free v_j = d_j u_j with d_j in [0, 1] (then v_j (u_j - v_j) >= 0), so sqrt(rho) bounds ||J|| for
every Jacobian diag-pattern in the slope sets, in particular for every activation pattern they allow.
Biases do not enter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from .. import _core

FREE = -1  # slope code of a neuron with slope set [0, 1]; 0 and 1 are the fixed slopes


@dataclass
class SlopeModel:
    """The matrices of M(rho, t), with entrywise magnitude majorants of their computed values."""
    n0: int                 # input dimension: z[:n0] is x_0
    index: np.ndarray       # z-coordinate of each free neuron (m,)
    neuron: List[tuple]     # (hidden layer, row) of each free neuron, in z order
    rows: np.ndarray        # w_j: the free neurons' pre-activations as rows over z (m, N)
    gram: np.ndarray        # U^T U (N, N)
    rows_abs: np.ndarray    # |W| chains: majorants of |rows| before rounding
    gram_abs: np.ndarray    # |U|^T |U| from the majorant of U
    depth: int              # float operations on the longest chain (for the rounding allowance)

    @property
    def size(self) -> int:
        return self.gram.shape[0]



def for_solver(weights: List[np.ndarray]) -> Tuple[List[np.ndarray], np.ndarray, float]:
    """The weights the barrier solves on, per hidden layer the factor taking its multipliers back, and the factor
    S_L^2 taking its rho back (rho = rho' S_L^2).

    W_1 = U S V^T becomes U S when the input is wider than the first layer (x_0 outside range(V) meets only
    the -rho I block, so the LMI is equivalent: 784 -> 50 inputs on lipsdp_mnist), and every layer is scaled
    to unit spectral norm s_k (ReLU is positively homogeneous: with S_k = s_1 ... s_k, layer k's outputs
    scale by 1/S_k, so t_j = t'_j S_L^2 / S_k^2). Only for solving: rounded, these are not the network, so
    the bound is certified on the original weights."""
    if weights[0].shape[1] > weights[0].shape[0]:
        U, sv, _ = np.linalg.svd(weights[0], full_matrices=False)
        weights = [U * sv] + list(weights[1:])
    s = np.array([max(float(np.linalg.norm(W, 2)), np.finfo(np.float64).tiny) for W in weights])
    after = np.cumprod(s[::-1])[::-1]              # after[k] = s_k ... s_L: no quotient to underflow to 0 / 0
    return [W / sk for W, sk in zip(weights, s)], after[1:] ** 2, float(after[0]) ** 2


def build(weights: List[np.ndarray], slopes: List[np.ndarray]) -> SlopeModel:
    """The model of the network with these weights (W_k of shape (out, in)) and hidden slope codes (settled by the
    caller on the network's own weights, `_core.sdp_settle`: a free neuron whose pre-activation is identically 0 has
    no bound on its multiplier, and the solver's form rounds an exact zero row to noise), built by
    the core (cpp/lipsdp_model.cpp): the free neurons' pre-activations as rows over z, the output map's Gram
    matrix, and the |W| chains' majorants of both for the certificate's rounding allowance."""
    m = _core.sdp_slope_model(list(weights), list(slopes))
    return SlopeModel(n0=int(m["n0"]), index=m["index"].astype(np.intp),
                      neuron=list(zip(m["layer"].tolist(), m["row"].tolist())), rows=m["rows"], gram=m["gram"],
                      rows_abs=m["rows_abs"], gram_abs=m["gram_abs"], depth=int(m["depth"]))
