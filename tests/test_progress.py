"""Progress display (only on a terminal, off with --quiet), the --history trace and `lipmiq plot`."""
import io
import json
import os
import pty
import subprocess
import sys

import lipmiq
import numpy as np
import pytest
from conftest import EXAMPLE
from lipmiq.cli import main
from lipmiq.cli.progress import Progress, read_history, status_line, write_history


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_status_line_fields():
    line = status_line(1.5, 2.0, 3.25)
    assert "lower 1.5" in line and "upper 2" in line and "gap 0.5 (25.00%)" in line and "3.2 s" in line
    assert "upper inf" in status_line(0.0, float("inf"), 0.0) and "gap inf" in status_line(0.0, float("inf"), 0.0)


def test_progress_only_on_a_terminal():
    plain = io.StringIO()
    assert not Progress(stream=plain).enabled
    tty = FakeTTY()
    assert Progress(stream=tty).enabled
    assert not Progress(stream=tty, enabled=False).enabled


def test_progress_draws_bounds_of_a_solve_in_place():
    tty = FakeTTY()
    with Progress(stream=tty, interval=0.0) as progress:
        res = lipmiq.lipschitz(EXAMPLE, lipmiq.Box(0, 1), p=2, q=2, time_limit=20, on_update=progress)
        progress.refresh()
        drawn = tty.getvalue()
    frames = [f for f in drawn.split("\r") if f.strip()]
    assert len(frames) >= 2  # at least one redraw per bound improvement, in place (carriage returns)
    assert "\n" not in drawn
    last = frames[-1]
    assert f"lower {res.lower:.8g}" in last and f"upper {res.upper:.8g}" in last
    assert tty.getvalue().endswith("\r")  # the line is cleared on exit


def test_silent_progress_writes_nothing():
    stream = io.StringIO()
    with Progress(stream=stream, interval=0.0) as progress:
        lipmiq.lipschitz(EXAMPLE, lipmiq.Box(0, 1), method="naive", on_update=progress)
    assert stream.getvalue() == ""


def _run_on_pty(args):
    """Run the CLI with stderr on a pseudo-terminal; returns (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lipmiq.cli"] + args, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_cli_progress_on_terminal_and_quiet():
    args = ["bound", EXAMPLE, "--box", "0", "1", "-p", "inf", "-q", "1", "--json", "--time-limit", "20"]
    code, out, term = _run_on_pty(args)
    assert code == 0
    assert "lower" in term and "upper" in term and "gap" in term
    json.loads(out)  # stdout stays one JSON object
    code, out, term = _run_on_pty(args + ["--quiet"])
    assert code == 0 and term == ""
    json.loads(out)


def test_history_file_and_plot(tmp_path, capsys):
    hist, result = tmp_path / "trace.json", tmp_path / "result.json"
    code = main(["bound", EXAMPLE, "--box", "0", "1", "--json", "--history", str(hist), "--time-limit", "20"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""  # not a terminal: no progress on stderr
    result.write_text(out)
    data = json.loads(out)
    trace = json.loads(hist.read_text())
    assert trace and all(len(row) == 3 for row in trace)
    t, lower, upper = (np.array([float(r[i]) for r in trace]) for i in range(3))
    assert np.all(np.diff(t) >= 0) and np.all(np.diff(lower) >= 0) and np.all(np.diff(upper) <= 0)
    assert lower[-1] == data["lower"] and upper[-1] == data["upper"]
    assert read_history(str(hist)) == read_history(str(result))

    pytest.importorskip("matplotlib")
    png = tmp_path / "bounds.png"
    assert main(["plot", str(result), "-o", str(png)]) == 0
    assert capsys.readouterr().out.strip() == str(png)
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 5000
    from matplotlib.image import imread
    img = imread(str(png))
    assert img.shape[0] > 100 and img.shape[1] > 100 and img[..., :3].std() > 0.01  # not a blank picture
    assert main(["plot", str(hist)]) == 0  # default output next to the input
    assert (tmp_path / "trace.png").is_file()


def test_write_history_unbounded_upper(tmp_path):
    path = tmp_path / "h.json"
    write_history(str(path), [[0.0, 0.0, float("inf")], [0.5, 1.0, 2.0]])
    assert json.loads(path.read_text()) == [[0.0, 0.0, None], [0.5, 1.0, 2.0]]  # strict JSON: null, not Infinity
    assert read_history(str(path))[0][2] == float("inf")


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not a JSON file"),
    ('{"lower": 1}', "expected a result JSON with a 'history' field"),
    ('[[0, 1]]', "history entry 0 is not [t, lower, upper]"),
    ('[]', "the history is empty"),
])
def test_plot_bad_input_exit_2(tmp_path, capsys, content, message):
    pytest.importorskip("matplotlib")
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    code = main(["plot", str(path)])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and "Traceback" not in err


def test_history_unwritable_exit_2(capsys, tmp_path):
    code = main(["bound", EXAMPLE, "--method", "naive", "--history", str(tmp_path / "no" / "such" / "dir.json")])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot write the history" in err


def test_radius_progress_rounds_on_terminal(monkeypatch, capsys):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    code = main(["radius", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "--time-limit", "5", "--max-rounds", "2"])
    assert code == 0
    frames = [f for f in tty.getvalue().split("\r") if f.strip()]
    assert frames and all(f.startswith("round ") and "certified" in f for f in frames)
    tty.truncate(0)
    tty.seek(0)
    assert main(["radius", EXAMPLE, "--center", "0.5,0.5,0.5,0.5", "--time-limit", "5", "--quiet"]) == 0
    assert tty.getvalue() == ""
    assert "radius" in capsys.readouterr().out


def test_plot_without_matplotlib_names_the_extra(tmp_path, monkeypatch, capsys):
    path = tmp_path / "h.json"
    write_history(str(path), [[0.0, 0.0, 1.0]])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    code = main(["plot", str(path)])
    _, err = capsys.readouterr()
    assert code == 2 and "pip install 'lipmiq[plot]'" in err


def test_plot_time_axis_reaches_time_s_and_title_has_status(tmp_path, monkeypatch):
    """The seconds after the last improvement are drawn: the axis and both steps end at the result's time_s."""
    pytest.importorskip("matplotlib")
    from lipmiq.cli import plot

    doc = {"history": [[0.01, 1.0, 3.0], [0.2, 1.5, 2.0]], "time_s": 7.5, "status": "time_limit"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    drawn = {}
    real = plot.draw_history

    def spy(history, t_end=None, title=None):
        drawn["fig"] = fig = real(history, t_end, title)
        return fig
    monkeypatch.setattr(plot, "draw_history", spy)
    assert plot.plot_file(str(path)) == str(tmp_path / "r.png")
    ax = drawn["fig"].axes[0]
    assert ax.get_xlim()[1] == pytest.approx(7.5)
    assert all(max(line.get_xdata()) == pytest.approx(7.5) for line in ax.get_lines())
    assert "time_limit" in ax.get_title() and "7.50 s" in ax.get_title()
