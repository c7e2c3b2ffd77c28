"""Strict JSON for every document lipmiq writes (results, history files, batch lines).

`json.dumps` writes the non-standard tokens Infinity and NaN by default, which strict parsers (jq, JSON
Schema validators, most languages) refuse. Here an infinite or undefined number becomes null (an
unbounded upper bound, a radius from global bounds), numpy values become plain numbers and lists, and
`allow_nan=False` makes any remaining non-finite value an error instead of a silently broken document.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """`value` with numpy types made plain and non-finite floats made None, recursively."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of `value` (see `plain`)."""
    return json.dumps(plain(value), allow_nan=False, **kwargs)
