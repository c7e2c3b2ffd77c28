"""Reading a text model or specification file with one clear error for a missing or unreadable file."""
from __future__ import annotations

import os

from ..errors import InputError


def read_text(path: str, kind: str, encoding: str) -> str:
    """The whole file as text; InputError naming the path and the format otherwise."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "r", encoding=encoding) as handle:
            return handle.read()
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot read {kind} file as text ({exc.__class__.__name__})") from None
