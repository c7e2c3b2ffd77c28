"""lipmiq: certified lower and upper bounds on the Lipschitz constant of ReLU networks."""
from . import _openblas  # noqa: F401  (first: lipmiq._core needs the library loaded)
from .analyses.batch import BatchItem, batch
from .analyses.monotone import MonotoneResult, monotonicity
from .analyses.radius import RadiusResult, certified_radius
from .api import lipschitz
from .domain import Ball, Box, Domain, Global
from .errors import InputError, LipmiqError
from .io import from_torch, load, load_npz
from .network import Layer, Network
from .result import Result, Witness
from .status import STATUSES
from .versions import __version__

__all__ = [
    "lipschitz", "Network", "Layer", "Domain", "Box", "Ball", "Global", "Result", "Witness",
    "load", "load_npz", "from_torch", "InputError", "LipmiqError",
    "certified_radius", "RadiusResult", "monotonicity", "MonotoneResult", "batch", "BatchItem", "STATUSES",
    "__version__",
]
