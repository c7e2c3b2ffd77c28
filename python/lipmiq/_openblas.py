"""Load OpenBLAS from the scipy-openblas32 wheel before lipmiq._core, which links it by its soname
(libscipy_openblas.so) and carries no rpath: the dynamic loader then finds the library already
loaded, wherever pip put the wheel (this site-packages, the user site, a base environment). The
wheel's directory is found without importing its package, whose import reads package metadata
(tenths of a second of every command's start-up)."""
import ctypes
import importlib.util
import os
import sys

_SPEC = importlib.util.find_spec("scipy_openblas32")
if _SPEC is None or not _SPEC.submodule_search_locations:
    raise ImportError("lipmiq needs the scipy-openblas32 package (pip install scipy-openblas32)")
LIB_DIR = os.path.join(list(_SPEC.submodule_search_locations)[0], "lib")

if sys.platform == "win32":  # importing the package adds its DLL directory
    import scipy_openblas32  # noqa: F401
else:
    LIBRARY = ctypes.CDLL(os.path.join(LIB_DIR, next(name for name in sorted(os.listdir(LIB_DIR))
                                                      if name.startswith("libscipy_openblas"))))
