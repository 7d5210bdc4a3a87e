"""Decoding the official SMPL ``.pkl``: a Python-2 pickle of ``chumpy`` arrays and a
``scipy.sparse`` joint regressor, read without chumpy and without scipy.

A restricted unpickler replaces chumpy objects and sparse matrices by small stand-ins that
keep their pickled state, which :func:`to_array` then turns into plain ndarrays. Nothing
outside numpy arrays, a few builtins and these stand-ins can be constructed, so decoding a
file cannot run arbitrary code. Files are opened by :mod:`diffmesh.body.loaders`.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np

__all__ = ["load_smpl_pickle", "to_array"]


class _PickledState:
    """Stand-in for a foreign class: records the state pickle hands to ``__setstate__``."""

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def _state_dict(self) -> dict[str, Any]:
        state = self.state
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        return state if isinstance(state, dict) else {}


class _ChumpyStandIn(_PickledState):
    """Any ``chumpy.*`` object. ``Ch`` keeps its value under ``'x'``; derived objects
    (``reordering``, ``ch_ops``) keep their operand, usually under ``'a'``."""

    def to_array(self) -> np.ndarray:
        state = self._state_dict()
        candidates = [state[k] for k in ("x", "a") if k in state] + list(state.values())
        for value in candidates:
            if isinstance(value, (np.ndarray, _PickledState)):
                return to_array(value)
        raise ValueError(f"chumpy object without an array in its pickled state (keys {sorted(state)})")


class _SparseStandIn(_PickledState):
    """``scipy.sparse`` compressed matrix; densified from ``data``/``indices``/``indptr``."""

    compressed_axis = 1  # csc: indptr runs over columns

    def to_array(self) -> np.ndarray:
        state = self._state_dict()
        try:
            data = np.asarray(state["data"])
            indices = np.asarray(state["indices"], dtype=np.int64)
            indptr = np.asarray(state["indptr"], dtype=np.int64)
            shape = tuple(int(s) for s in state.get("_shape", state.get("shape")))
        except (KeyError, TypeError) as err:
            raise ValueError(f"sparse matrix with unexpected pickled state (keys {sorted(state)})") from err
        dense = np.zeros(shape, dtype=data.dtype)
        outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))  # one entry per stored value
        rows, cols = (indices, outer) if self.compressed_axis == 1 else (outer, indices)
        np.add.at(dense, (rows, cols), data)  # duplicates are summed, as scipy does
        return dense


class _CsrStandIn(_SparseStandIn):
    compressed_axis = 0  # csr: indptr runs over rows


_SAFE_GLOBALS = {
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
    ("__builtin__", "set"), ("builtins", "set"),
    ("__builtin__", "frozenset"), ("builtins", "frozenset"),
    ("__builtin__", "slice"), ("builtins", "slice"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}  # fmt: skip


class _SmplUnpickler(pickle.Unpickler):
    """Unpickler for SMPL files that needs neither chumpy nor scipy and builds nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStandIn
        if module.startswith("scipy.sparse"):
            if name == "csc_matrix":
                return _SparseStandIn
            if name == "csr_matrix":
                return _CsrStandIn
        if (module, name) in _SAFE_GLOBALS:
            if module.startswith("numpy.core") and hasattr(np, "_core"):
                module = "numpy._core" + module[len("numpy.core") :]  # numpy >= 2 spelling
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: an SMPL model file should only contain numpy "
            f"arrays, chumpy arrays and scipy sparse matrices"
        )


def to_array(value: Any) -> Any:
    """Replace stand-ins by ndarrays; leave every other value as it is."""
    if isinstance(value, (_ChumpyStandIn, _SparseStandIn)):
        return value.to_array()
    return value


def load_smpl_pickle(f: IO[bytes]) -> Any:
    """Unpickle an SMPL model file's stream (Python-2 pickles: latin-1 strings)."""
    return _SmplUnpickler(f, encoding="latin1").load()
