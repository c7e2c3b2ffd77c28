"""Random test networks and the translation of lipmiq domains to the brute-force oracle's tuples."""
import numpy as np

from lipmiq import Ball, Box


def random_net(seed, sizes, bias=True):
    """Gaussian weights (out, in) for the layer sizes, biases of scale 0.5 (or zero)."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    biases = [rng.standard_normal(sizes[k + 1]) * 0.5 if bias else np.zeros(sizes[k + 1]) for k in range(len(sizes) - 1)]
    return weights, biases


def oracle_domain(domain):
    """A resolved lipmiq domain as ("box", lo, hi), ("ball", center, radius, norm) or ("global",)."""
    if isinstance(domain, Box):
        return ("box", np.asarray(domain.lo, float), np.asarray(domain.hi, float))
    if isinstance(domain, Ball):
        return ("ball", np.asarray(domain.center, float), domain.radius, domain.norm)
    return ("global",)
