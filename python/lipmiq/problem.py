"""A Lipschitz query normalised for the solvers: scalar outputs folded in, fixed coordinates removed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .domain import Domain, Global
from .errors import InputError
from .network import Network
from .norms import parse_norm
from .reductions.inputs import FixInputs


@dataclass(frozen=True)
class Problem:
    """What the methods solve: `network` on `domain` over the free input coordinates.

    `full` is the (output-selected) network on all inputs: witnesses are stated and re-checked on it;
    `inputs` (the FixInputs reduction) maps points and directions between the two. For a scalar output
    the output norm is irrelevant and q is set to inf (`q_requested` is echoed in results).
    """

    network: Network
    domain: Domain
    p: float
    q: float
    full: Network
    full_domain: Domain
    inputs: FixInputs
    q_requested: float
    output: object

    @property
    def free(self) -> np.ndarray:
        """Indices of the input coordinates that can move."""
        return self.inputs.free

    @property
    def trivial(self) -> bool:
        """True when the domain is a single point, where L = 0."""
        return self.free.size == 0


def make_problem(network: Network, domain: Optional[Domain], p: object, q: object, output: object = None) -> Problem:
    """Validate a query and normalise it into a Problem: the output selected (c^T f folded into the last
    layer), the domain resolved, fixed coordinates removed."""
    p = parse_norm(p, "input norm p")
    q_requested = parse_norm(q, "output norm q")
    if domain is None:
        domain = Global()
    if not isinstance(domain, Domain):
        raise InputError(f"domain must be a Box, Ball or Global, got {type(domain).__name__}")
    full_domain = domain.resolve(network.input_dim)
    full = network.select_output(output)
    inputs = FixInputs(full, full_domain)
    q_eff = math.inf if full.output_dim == 1 else q_requested
    return Problem(inputs.network, inputs.domain, p, q_eff, full, full_domain, inputs, q_requested, output)
