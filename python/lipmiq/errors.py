"""Exception types: bad input is told apart from internal failures (CLI exit 2 vs 1)."""
import time


class LipmiqError(Exception):
    """Base class of every error lipmiq raises on purpose."""


class InputError(LipmiqError, ValueError):
    """A network file, domain or query is malformed; the message names what and where."""


class TimeUp(LipmiqError):
    """The time limit passed inside a stage that cannot return partial work (building a solver model):
    the method ends with status time_limit and the bounds certified so far."""


def check_deadline(deadline: float, what: str) -> None:
    """Raise TimeUp when `deadline` (time.perf_counter() seconds) has passed."""
    if time.perf_counter() > deadline:
        raise TimeUp(f"the time limit passed while {what}")
