"""Independent oracles the library is tested against (never shipped): the brute-force region enumeration
and plain-numpy twins of the C++ kernels. Nothing here imports lipmiq."""
