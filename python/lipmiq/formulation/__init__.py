"""MIQCQP formulations: a `Plan` (what to encode, from the network, domain and bounds) and the
layer-by-layer SCIP model builders shared by the closed (upper bound) and strict (lower bound) problems."""
