"""lipmiq: certified lower and upper bounds on the Lipschitz constant of ReLU networks."""
from . import _openblas  # noqa: F401  (first: lipmiq._core needs the library loaded)
from .analyses.monotone import MonotoneResult, monotonicity
from .analyses.radius import RadiusResult, certified_radius
from .api import lipschitz
from .domain import Ball, Box, Domain, Global
from .errors import InputError, LipmiqError
from .io import from_torch, load, load_npz
from .network import Layer, Network
from .result import Result, Witness
from .status import STATUSES

__all__ = [
    "lipschitz", "Network", "Layer", "Domain", "Box", "Ball", "Global", "Result", "Witness",
    "load", "load_npz", "from_torch", "InputError", "LipmiqError",
    "certified_radius", "RadiusResult", "monotonicity", "MonotoneResult", "batch", "BatchItem", "STATUSES",
    "__version__",
]


def __getattr__(name: str):
    """`lipmiq.__version__` and `lipmiq.batch` / `BatchItem` on first use: the package metadata and the
    process-pool machinery are slow to import, and a command that needs neither should not wait."""
    if name == "__version__":
        from .versions import lipmiq_version

        return lipmiq_version()
    if name in ("batch", "BatchItem"):
        from .analyses import batch as batch_module

        return getattr(batch_module, name)
    raise AttributeError(f"module 'lipmiq' has no attribute {name!r}")
