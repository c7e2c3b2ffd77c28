"""The bound-versus-time picture of a solve (matplotlib, optional extra `plot`)."""
from __future__ import annotations

import math
import os
from typing import Any, List, Optional

from ..errors import InputError
from .progress import read_trace


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install 'lipmiq[plot]'") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def draw_history(history: List[List[float]], t_end: Optional[float] = None, title: Optional[str] = None) -> Any:
    """A matplotlib Figure of the lower and upper bounds as step functions of time, drawn up to `t_end`
    (the result's time_s: the seconds after the last improvement are part of the story)."""
    if not history:
        raise InputError("the history is empty: nothing to plot")
    plt = _pyplot()
    t = [row[0] for row in history]
    lower = [row[1] for row in history]
    upper = [row[2] for row in history]
    if t_end is None or not t_end > t[-1]:
        t_end = t[-1] * 1.05 if t[-1] > 0 else 1.0
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.step(t + [t_end], lower + [lower[-1]], where="post", label="lower (certified witness)", color="tab:blue")
    finite = [(ti, ui) for ti, ui in zip(t, upper) if math.isfinite(ui)]
    if finite:
        ft, fu = zip(*finite)
        ax.step(list(ft) + [t_end], list(fu) + [fu[-1]], where="post", label="upper (certified)", color="tab:red")
        ax.fill_between(t + [t_end], lower + [lower[-1]],
                        [u if math.isfinite(u) else math.nan for u in upper] + [fu[-1]],
                        step="post", color="tab:gray", alpha=0.15, label="gap")
    ax.set_xlim(left=0.0, right=t_end)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Lipschitz bound")
    ax.set_title(title or "lipmiq: bounds over time")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_history(history: List[List[float]], out: str, title: Optional[str] = None,
                 t_end: Optional[float] = None) -> str:
    """Draw the bounds into `out` (format from its suffix); see `draw_history`."""
    fig = draw_history(history, t_end, title)
    try:
        fig.savefig(out)
    except (OSError, ValueError) as exc:
        raise InputError(f"{out}: cannot write the picture ({exc})") from None
    finally:
        _pyplot().close(fig)
    return out


def plot_file(path: str, out: Optional[str] = None) -> str:
    """Plot a result JSON (or a `--history` file); the picture goes next to it as .png by default.
    A result's status and time go into the title and its time_s ends the time axis."""
    history, doc = read_trace(path)
    if out is None:
        out = os.path.splitext(path)[0] + ".png"
    details, t_end = [], doc.get("time_s")
    if isinstance(doc.get("status"), str):
        details.append(doc["status"])
    if isinstance(t_end, (int, float)) and not isinstance(t_end, bool):
        details.append(f"{t_end:.2f} s")
    else:
        t_end = None
    title = f"lipmiq: {os.path.basename(path)}" + (f" ({', '.join(details)})" if details else "")
    return plot_history(history, out, title=title, t_end=t_end)
