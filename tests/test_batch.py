"""Batch queries: every query comes back exactly once (local process pool and a Dask LocalCluster of two
worker processes), a failing query is reported with its error, and the bounds are the true constants."""
import json
import os
import subprocess
import sys

import lipmiq
import numpy as np
import pytest
from conftest import EXAMPLE
from lipmiq.cli import main
from netgen import random_net
from oracles.bruteforce import exact_lipschitz


def small_net():
    """A 2-5-2 network of netgen (unscaled biases): cheap queries for the pool and cluster tests."""
    return lipmiq.Network(*random_net(11, [2, 5, 2], bias_scale=1.0))


def point_queries(net, count, radius=0.5):
    centers = np.random.default_rng(12).uniform(-1, 1, (count, 2))
    return [dict(network=net, domain=lipmiq.Ball(c, radius, np.inf), p=2, q=2, time_limit=10) for c in centers]


def check_items(items, queries, failing):
    assert sorted(item.index for item in items) == list(range(len(queries)))  # each exactly once
    for item in items:
        assert item.query is queries[item.index] or item.query == queries[item.index]
        if item.index in failing:
            assert not item.ok and item.result is None and failing[item.index] in item.error
            continue
        assert item.ok, item.error
        q = queries[item.index]
        dom = q["domain"]
        exact = exact_lipschitz(q["network"].weights, q["network"].biases,
                                ("ball", dom.center, dom.radius, dom.norm), 2, 2)
        res = item.result
        assert res.lower <= exact * (1 + 1e-9) and res.upper >= exact * (1 - 1e-9)
        assert res.exact and res.upper == pytest.approx(exact, rel=1e-5)
        assert res.domain["ball"]["center"] == pytest.approx(list(dom.center))


def test_local_process_pool_every_query_once():
    net = small_net()
    queries = point_queries(net, 3)
    queries.append(dict(network=net, domain=lipmiq.Box(0, 1), p=5))           # bad norm
    queries.append("not a dict")
    queries.append(dict(network=net, seed=lambda: 0))                           # cannot reach a worker
    items = list(lipmiq.batch(queries))
    check_items(items, queries, {3: "input norm p must be 1, 2 or inf", 4: "a query must be a dict", 5: "pickle"})


def test_local_pool_workers_keep_the_core_to_one_thread(monkeypatch):
    from lipmiq.analyses.batch import single_threaded_core

    monkeypatch.delenv("LIPMIQ_THREADS", raising=False)
    single_threaded_core()
    assert os.environ["LIPMIQ_THREADS"] == "1"
    monkeypatch.setenv("LIPMIQ_THREADS", "2")  # the caller's choice stands
    single_threaded_core()
    assert os.environ["LIPMIQ_THREADS"] == "2"


def test_given_executor_is_left_running():
    from concurrent.futures import ThreadPoolExecutor

    net = small_net()
    queries = point_queries(net, 2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        items = list(lipmiq.batch(queries, executor=pool))
        assert pool.submit(lambda: 7).result() == 7
    check_items(items, queries, {})


def test_bad_batch_arguments():
    with pytest.raises(lipmiq.InputError, match="queries must be an iterable"):
        list(lipmiq.batch(5))
    with pytest.raises(lipmiq.InputError, match="max_workers must be >= 1"):
        list(lipmiq.batch([], max_workers=0))


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cl:
        yield cl


def test_dask_local_cluster_every_query_once(cluster):
    from distributed import Client

    net = small_net()
    queries = point_queries(net, 6)
    queries.append(dict(network=net, domain=lipmiq.Ball(np.zeros(3), 0.5, 2)))  # wrong center size
    with Client(cluster) as client:
        items = list(lipmiq.batch(queries, executor=client.get_executor()))
        workers = client.run(os.getpid)
    assert len(workers) == 2
    check_items(items, queries, {6: "ball center has 3 entries but the network has 2 inputs"})


def test_cli_batch_json_lines_local_and_dask(cluster, tmp_path):
    points = np.random.default_rng(3).uniform(0, 1, (4, 4))
    path = tmp_path / "points.npy"
    np.save(path, points)
    base = [sys.executable, "-m", "lipmiq.cli", "batch", EXAMPLE, str(path), "--radius", "0.05",
            "--ball-norm", "inf", "-p", "inf", "-q", "inf", "--method", "naive"]
    for extra in ([], ["--scheduler", cluster.scheduler_address]):
        proc = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert sorted(line["index"] for line in lines) == [0, 1, 2, 3]
        for line in lines:
            assert line["center"] == pytest.approx(points[line["index"]].tolist())
            assert line["result"]["domain"]["ball"]["center"] == pytest.approx(line["center"])
            assert line["result"]["upper"] > 0 and line["result"]["method"] == "naive"


@pytest.mark.parametrize("make, args, message", [
    (lambda p: np.save(p, np.zeros((3, 2))), ["--radius", "0.1"], "points must have shape (N, 4) for this network"),
    (lambda p: np.save(p, np.zeros((3, 4))), ["--radius", "-1"], "--radius must be finite and >= 0"),
    (lambda p: None, ["--radius", "0.1"], "no such file"),
    (lambda p: np.save(p, np.full((2, 4), np.nan)), ["--radius", "0.1"], "point 0 has a non-finite entry"),
])
def test_cli_batch_bad_input_exit_2(tmp_path, capsys, make, args, message):
    path = tmp_path / "pts.npy"
    make(path)
    code = main(["batch", EXAMPLE, str(path)] + args)
    out, err = capsys.readouterr()
    assert code == 2 and message in err and out == "" and "Traceback" not in err


def test_scheduler_without_distributed_names_the_extra(tmp_path, monkeypatch, capsys):
    path = tmp_path / "pts.npy"
    np.save(path, np.zeros((1, 4)))
    monkeypatch.setitem(sys.modules, "distributed", None)
    code = main(["batch", EXAMPLE, str(path), "--radius", "0.1", "--scheduler", "tcp://127.0.0.1:1"])
    _, err = capsys.readouterr()
    assert code == 2 and "pip install 'lipmiq[dask]'" in err
