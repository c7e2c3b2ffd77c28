"""Analyses built on Lipschitz bounds: robustness radius, monotonicity, batches of queries."""
