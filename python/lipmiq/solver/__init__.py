"""Driving SCIP: the bound trace during a solve and the search over closed and strict problems."""
