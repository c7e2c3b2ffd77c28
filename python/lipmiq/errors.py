"""Exception types: bad input is told apart from internal failures (CLI exit 2 vs 1)."""


class LipmiqError(Exception):
    """Base class of every error lipmiq raises on purpose."""


class InputError(LipmiqError, ValueError):
    """A network file, domain or query is malformed; the message names what and where."""
