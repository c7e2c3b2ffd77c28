"""The .npz reader (arrays W0, b0, W1, b1, ...), with size checks from the array headers alone."""
from __future__ import annotations

import os
import re
import zipfile
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import InputError
from ..limits import default_cap, enforce, human_bytes
from ..network import Network


def _check_npz_memory(path: str) -> None:
    """Refuse, from the array headers alone, an npz whose arrays would not fit in memory."""
    headers = npz_headers(path)
    if not headers:
        return
    total = sum(int(np.prod(shape, dtype=np.float64)) * 8 for shape, _, _ in headers.values())
    cap = default_cap()
    if total > cap:
        name, (shape, _, _) = max(headers.items(), key=lambda kv: np.prod(kv[1][0], dtype=np.float64))
        raise InputError(f"{path}: array {name} of shape {tuple(shape)} alone would need "
                         f"{human_bytes(np.prod(shape, dtype=np.float64) * 8)} as float64; the arrays need "
                         f"{human_bytes(total)}, more than the memory cap {human_bytes(cap)}")


def load_npz(path: str) -> Network:
    """Arrays W0, b0, W1, b1, ... (W_k of shape (out, in)); pickled objects are refused."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot read npz file (not a zip archive: truncated or not an npz)")
    _check_npz_memory(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except ValueError:
        raise InputError(f"{path}: not a plain npz file of numeric arrays (pickled objects are refused)") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise InputError(f"{path}: cannot read npz file ({exc.__class__.__name__}: {exc})") from None
    weights_keys = sorted((int(m.group(1)), k) for k in arrays if (m := re.fullmatch(r"W(\d+)", k)))
    if not weights_keys:
        raise InputError(f"{path}: no weight arrays W0, W1, ... found (arrays: {sorted(arrays)})")
    indices = [i for i, _ in weights_keys]
    if indices != list(range(len(indices))):
        raise InputError(f"{path}: weight arrays must be W0..W{len(indices) - 1} without gaps, found {indices}")
    weights, biases = [], []
    for i in indices:
        weights.append(arrays[f"W{i}"])
        biases.append(arrays.get(f"b{i}"))
    return Network(weights, biases, name=name)


def npz_headers(path: str) -> Dict[str, Tuple[Tuple[int, ...], np.dtype, int]]:
    """name -> (shape, dtype, stored bytes) of every .npy member, from the headers only (no data read).

    Raises InputError for a member whose header declares more data than the archive holds (a truncated
    file, or a header that would make numpy allocate terabytes). Unreadable archives return {} and are
    left to the loader's own messages.
    """
    out: Dict[str, Tuple[Tuple[int, ...], np.dtype, int]] = {}
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError):
        return out
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    header_len = member.tell()
            except Exception:  # noqa: BLE001 - not an npy header: the loader reports it
                continue
            name = info.filename[:-4]
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            stored = info.file_size - header_len
            if not dtype.hasobject and declared > stored:
                raise InputError(
                    f"{path}: array {name} declares shape {tuple(shape)} of {dtype} ({human_bytes(declared)}) "
                    f"but the file holds only {human_bytes(max(stored, 0))} of data: truncated or corrupted")
            out[name] = (tuple(int(s) for s in shape), dtype, stored)
    return out


def npz_layer_sizes(path: str) -> Optional[List[int]]:
    """Layer sizes [n_in, h_1, ..., n_out] from the W0, W1, ... headers; None if they do not form a chain."""
    heads = npz_headers(path)
    ws = sorted((int(m.group(1)), shape) for k, (shape, _, _) in heads.items()
                if (m := re.fullmatch(r"W(\d+)", k)))
    if not ws or [i for i, _ in ws] != list(range(len(ws))) or any(len(s) != 2 for _, s in ws):
        return None
    sizes = [ws[0][1][1]] + [s[0] for _, s in ws]
    if any(ws[k + 1][1][1] != ws[k][1][0] for k in range(len(ws) - 1)):
        return None
    return sizes


def check_npz(path: str, method: str = "miqcqp", encoding: str = "quadratic", cap: Optional[object] = None) -> None:
    """Refuse an npz file up front, from its headers alone, when it is truncated or too large to solve."""
    sizes = npz_layer_sizes(path)
    if sizes is not None:
        enforce(sizes, method, encoding, cap, os.path.basename(path))
