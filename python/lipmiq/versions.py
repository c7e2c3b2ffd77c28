"""The versions a result was computed with: lipmiq's own (one source: pyproject.toml, through the
installed package's metadata), SCIP's and HiGHS's (asked of the libraries, once per process)."""
from __future__ import annotations

import functools
from importlib import metadata
from typing import Dict

try:
    __version__ = metadata.version("lipmiq")
except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"


@functools.lru_cache(maxsize=1)
def versions() -> Dict[str, str]:
    """{"lipmiq": ..., "scip": ..., "highs": ...}, as written into every JSON result."""
    from pyscipopt import Model

    from .solvers.highs import new_highs

    scip = Model()
    return {"lipmiq": __version__,
            "scip": f"{scip.getMajorVersion()}.{scip.getMinorVersion()}.{scip.getTechVersion()}",
            "highs": new_highs().version()}
