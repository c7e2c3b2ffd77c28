"""lipmiq: certified lower and upper bounds on the Lipschitz constant of ReLU networks."""
from . import _openblas  # noqa: F401  (first: lipmiq._core needs the library loaded)
from .api import lipschitz
from .batch import BatchItem, batch
from .domain import Ball, Box, Domain, Global
from .errors import InputError, LipmiqError
from .io import from_torch, load, load_npz
from .network import Layer, Network
from .monotone import MonotoneResult, monotonicity
from .result import Result, Witness
from .robustness import RadiusResult, certified_radius

__all__ = [
    "lipschitz", "Network", "Layer", "Domain", "Box", "Ball", "Global", "Result", "Witness",
    "load", "load_npz", "from_torch", "InputError", "LipmiqError",
    "certified_radius", "RadiusResult", "monotonicity", "MonotoneResult", "batch", "BatchItem",
]
__version__ = "0.1.0"
