"""The bound-versus-time picture of a solve (matplotlib, optional extra `plot`)."""
from __future__ import annotations

import math
import os
from typing import List, Optional

from ..errors import InputError
from .progress import read_history


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install 'lipmiq[plot]'") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: List[List[float]], out: str, title: Optional[str] = None) -> str:
    """Draw lower and upper bounds as step functions of time into `out` (format from its suffix)."""
    if not history:
        raise InputError("the history is empty: nothing to plot")
    plt = _pyplot()
    t = [row[0] for row in history]
    lower = [row[1] for row in history]
    upper = [row[2] for row in history]
    t_end = t[-1] * 1.05 if t[-1] > 0 else 1.0
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        ax.step(t + [t_end], lower + [lower[-1]], where="post", label="lower (certified witness)", color="tab:blue")
        finite = [(ti, ui) for ti, ui in zip(t, upper) if math.isfinite(ui)]
        if finite:
            ft, fu = zip(*finite)
            ax.step(list(ft) + [t_end], list(fu) + [fu[-1]], where="post", label="upper (certified)", color="tab:red")
            ax.fill_between(t + [t_end], lower + [lower[-1]],
                            [u if math.isfinite(u) else math.nan for u in upper] + [fu[-1]],
                            step="post", color="tab:gray", alpha=0.15, label="gap")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("Lipschitz bound")
        ax.set_title(title or "lipmiq: bounds over time")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        fig.tight_layout()
        try:
            fig.savefig(out)
        except (OSError, ValueError) as exc:
            raise InputError(f"{out}: cannot write the picture ({exc})") from None
    finally:
        plt.close(fig)
    return out


def plot_file(path: str, out: Optional[str] = None) -> str:
    """Plot a result JSON (or a `--history` file); the picture goes next to it as .png by default."""
    history = read_history(path)
    if out is None:
        out = os.path.splitext(path)[0] + ".png"
    return plot_history(history, out, title=f"lipmiq: {os.path.basename(path)}")
