"""Load OpenBLAS from the scipy-openblas32 wheel before lipmiq._core, which links it by its soname
(libscipy_openblas.so) and carries no rpath: the dynamic loader then finds the library already
loaded, wherever pip put the wheel (this site-packages, the user site, a base environment)."""
import ctypes
import os
import sys

import scipy_openblas32

if sys.platform != "win32":  # on Windows importing scipy_openblas32 adds its DLL directory
    LIBRARY = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True)))
