"""Exact rescalings of a Plan by powers of two, for SCIP's absolute tolerances: patterns, inputs and
directions are unchanged, and only the objective value needs mapping back."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .chain import Reduction
from .encode import Plan


def near_one(magnitude: np.ndarray) -> np.ndarray:
    """Powers of two c with c * magnitude near 1 (1 where a magnitude is 0 or not finite)."""
    ok = (magnitude > 0.0) & np.isfinite(magnitude)
    out = np.ones_like(magnitude, dtype=np.float64)
    out[ok] = 2.0 ** -np.round(np.log2(magnitude[ok]))
    return out


class BalanceNeurons(Reduction):
    """Every hidden neuron rescaled by a power of two c_j so that its pre-activation and direction bounds are
    near 1: W_k -> diag(c_k) W_k diag(c_{k-1})^-1, b_k -> c_k b_k, W_out -> W_out diag(c_{L-1})^-1. Exact
    (relu is positively homogeneous, powers of two multiply exactly): patterns, inputs, directions and the
    output are unchanged. With every layer at 1e6 scale, SCIP's tolerances met pre-activations of 1e18 and
    its dual bound fell below L (review, fuzz seed 3590); one factor per neuron, not per layer, because
    neurons of one layer can differ by orders of magnitude."""

    def apply(self, plan: Plan) -> Plan:
        layers, prev = [], np.ones(plan.x_lo.size)
        for layer in plan.layers:
            z = np.maximum(np.abs(layer.lo), np.abs(layer.hi))
            w = np.maximum(np.abs(layer.wlo), np.abs(layer.whi))
            both = (z > 0) & (w > 0)
            c = near_one(np.where(both, np.sqrt(z * w), np.maximum(z, w)))
            layers.append(dataclasses.replace(layer, W=layer.W * c[:, None] / prev[None, :], b=layer.b * c,
                                              lo=layer.lo * c, hi=layer.hi * c, eps=layer.eps * c,
                                              wlo=layer.wlo * c, whi=layer.whi * c))
            prev = c
        return dataclasses.replace(plan, layers=layers, W_out=plan.W_out / prev[None, :])


class ScaleOutput(Reduction):
    """The plan of s f for a power of two s with s * (the bound on |y|) near 1: SCIP's tolerances are absolute
    (1e-9 on objectives, 1e-6 on rows), so an output of scale 1e-6 or 1e6 lost 1e-2 of relative accuracy or
    hit "unresolved numerical troubles". `typical` (the certified lower bound, if any) sets the scale of the
    optimum better than the y bounds. The output weights are never shrunk below 1: SCIP drops coefficients
    under its epsilon (1e-9), which made y = 0 and the dual bound 0 when every layer was scaled by 1e6."""

    def __init__(self, plan: Plan, typical: float = 0.0):
        big = float(np.max(np.maximum(np.abs(plan.ylo), np.abs(plan.yhi)))) if len(plan.ylo) else 0.0
        if typical > 0.0 and math.isfinite(typical):
            big = typical
        coef = float(np.max(np.abs(plan.W_out))) if plan.W_out.size else 0.0
        if not (big > 0.0 and math.isfinite(big) and coef > 0.0):
            self.scale = 1.0
        else:
            self.scale = max(2.0 ** -round(math.log2(big)), 2.0 ** -round(math.log2(coef)))

    def apply(self, plan: Plan) -> Plan:
        s = self.scale
        return dataclasses.replace(plan, W_out=plan.W_out * s, b_out=plan.b_out * s, ylo=plan.ylo * s, yhi=plan.yhi * s)

    def value(self, t: float) -> float:
        return t / self.scale
