"""Pre-activation and Jacobian bounds over a domain: interval, symbolic (CROWN), LP tightening, direction bounds,
gradient-graph bound propagation (gradient.py)."""
