"""Thin interfaces to the solvers lipmiq drives (HiGHS for LPs, SCIP for the mixed-integer models)."""
