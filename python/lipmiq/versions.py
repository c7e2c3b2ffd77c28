"""The versions a result was computed with: lipmiq's own (one source: pyproject.toml, through the
installed package's metadata), SCIP's and HiGHS's (asked of the libraries, once per process)."""
from __future__ import annotations

import functools
from typing import Dict


@functools.lru_cache(maxsize=1)
def lipmiq_version() -> str:
    """The installed package's version (read on first use: the metadata module is slow to import)."""
    from importlib import metadata

    try:
        return metadata.version("lipmiq")
    except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


@functools.lru_cache(maxsize=1)
def versions() -> Dict[str, str]:
    """{"lipmiq": ..., "scip": ..., "highs": ...}, as written into every JSON result."""
    from pyscipopt import Model

    from .solvers.highs import new_highs

    scip = Model()
    return {"lipmiq": lipmiq_version(),
            "scip": f"{scip.getMajorVersion()}.{scip.getMinorVersion()}.{scip.getTechVersion()}",
            "highs": new_highs().version()}
