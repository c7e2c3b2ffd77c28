"""Many independent `lipschitz` queries through any concurrent.futures.Executor.

A local process pool by default; a Dask cluster through `distributed.Client(address).get_executor()`
(optional extra `dask`). Results stream back in completion order with their query attached, and a
query that fails comes back as an error message instead of being lost, marked "input" when the query
itself was refused (InputError, or it could not be submitted) and "internal" otherwise (a crashed worker).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Optional

from ..errors import InputError
from ..result import Result


@dataclass
class BatchItem:
    """One query's outcome: its position in the input, the query itself, and a result or an error
    (`error_kind` "input" for a refused query, "internal" for a failure of lipmiq or of its worker)."""

    index: int
    query: Mapping[str, Any]
    result: Optional[Result] = None
    error: Optional[str] = None
    error_kind: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_query(query: Mapping[str, Any]) -> Result:
    """Run one query (the keyword arguments of `lipschitz`) in a worker."""
    from ..api import lipschitz

    if not isinstance(query, Mapping):
        raise InputError(f"a query must be a dict of lipschitz() keyword arguments, got {type(query).__name__}")
    if "network" not in query:
        raise InputError("a query needs a 'network' (a path or a Network)")
    return lipschitz(**dict(query))


def single_threaded_core() -> None:
    """Initializer of the local pool's workers: the pool already puts one query per core, so the C++
    core's products stay on one thread per worker (LIPMIQ_THREADS=1) unless the caller set it."""
    os.environ.setdefault("LIPMIQ_THREADS", "1")


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def dask_client(address: str) -> Any:
    """A distributed.Client of the Dask scheduler at `address` (optional extra `dask`); use
    `client.get_executor()` for `batch` and `client.close()` when done."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("a Dask scheduler needs the distributed package: pip install 'lipmiq[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot connect to the Dask scheduler at {address!r} ({_describe(exc)})") from None


def batch(queries: Iterable[Mapping[str, Any]], executor: Optional[cf.Executor] = None,
          max_workers: int = 2) -> Iterator[BatchItem]:
    """Yield a BatchItem per query, in completion order; every query comes back exactly once.

    Without `executor`, a local process pool of `max_workers` processes is created and shut down here
    (started with "spawn", so a script must call it under `if __name__ == "__main__":`, as for any
    multiprocessing code), its workers keeping the core to one thread each unless LIPMIQ_THREADS is set;
    a given executor is left running (its owner shuts it down).
    """
    try:
        items = list(queries)
    except TypeError:
        raise InputError(f"queries must be an iterable of dicts, got {type(queries).__name__}") from None
    own = executor is None
    if own:
        if int(max_workers) < 1:
            raise InputError(f"max_workers must be >= 1, got {max_workers!r}")
        executor = cf.ProcessPoolExecutor(max_workers=int(max_workers), mp_context=multiprocessing.get_context("spawn"),
                                          initializer=single_threaded_core)
    try:
        futures = {}
        for index, query in enumerate(items):
            try:
                futures[executor.submit(run_query, query)] = index
            except Exception as exc:  # e.g. a query that cannot be pickled: reported, not lost
                yield BatchItem(index, query, error=f"not submitted: {_describe(exc)}", error_kind="input")
        for future in cf.as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except InputError as exc:  # the query was refused: the caller's to fix
                yield BatchItem(index, items[index], error=_describe(exc), error_kind="input")
            except Exception as exc:  # the worker failed, or died
                yield BatchItem(index, items[index], error=_describe(exc), error_kind="internal")
            else:
                yield BatchItem(index, items[index], result=result)
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
