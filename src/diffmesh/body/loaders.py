"""Load SMPL-format body models from official SMPL files, ``data/mesh`` folders or ``"open"``.

The official ``SMPL_NEUTRAL.pkl`` (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``) is a
Python-2 pickle of ``chumpy`` arrays and a ``scipy.sparse`` joint regressor. We read it
without chumpy (and without scipy) through a restricted unpickler: chumpy objects and
sparse matrices are replaced by small stand-ins that keep their pickled state, which is
then turned into plain ndarrays. Nothing outside numpy arrays, a few builtins and these
stand-ins can be constructed, so loading a file cannot run arbitrary code.

File layout (SMPL ``.pkl`` and ``.npz`` share key names):
``v_template [V,3]``, ``shapedirs [V,3,S]``, ``posedirs [V,3,P]``, ``J_regressor [J,V]``
(sparse or dense), ``weights [V,J]``, ``kintree_table [2,J]``, ``f [F,3]``.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffmesh.body.layer import NUM_EXTRA_JOINTS, BodyModel
from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS

logger = logging.getLogger(__name__)

__all__ = [
    "MeshAssets",
    "SMPL_MODEL_FILE",
    "H36M_REGRESSOR_FILE",
    "EXTRA_REGRESSOR_FILE",
    "MEAN_PARAMS_FILE",
    "MEAN_VERTICES_FILE",
    "body_model_from_smpl_arrays",
    "read_smpl_arrays",
    "load_smpl_file",
    "load_smpl_folder",
    "load",
]

PathLike = str | os.PathLike[str]

# The official ``data/mesh`` folder (DATA.md section 3.3).
SMPL_MODEL_FILE = "SMPL_NEUTRAL.pkl"
H36M_REGRESSOR_FILE = "J_regressor_h36m_correct.npy"
EXTRA_REGRESSOR_FILE = "J_regressor_extra.npy"
MEAN_PARAMS_FILE = "smpl_mean_params.npz"
MEAN_VERTICES_FILE = "smpl_mean_vertices.npy"

#: Size of the SPIN mean pose in ``smpl_mean_params.npz`` (24 joints x 6-D 'spin_columns').
MEAN_POSE_SIZE = 144

_SMPL_FIX = (
    "put SMPL_NEUTRAL.pkl from the SMPL website in DATA_ROOT, "
    "or use the open body model (the default)"
)
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


# --------------------------------------------------------------------------- unpickling


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
                return _to_array(value)
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


def _to_array(value: Any) -> Any:
    """Replace stand-ins by ndarrays; leave every other value as it is."""
    if isinstance(value, (_ChumpyStandIn, _SparseStandIn)):
        return value.to_array()
    return value


# --------------------------------------------------------------------------- files -> arrays


def read_smpl_arrays(path: PathLike) -> dict[str, Any]:
    """Read an SMPL-format ``.pkl`` or ``.npz`` into a dict of plain numpy arrays (and strings).

    Args:
        path: the model file.

    Returns:
        The file's entries with chumpy arrays and sparse matrices converted to ndarrays.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SMPL model file {path.name} not found in {path.parent}; {_SMPL_FIX}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    if path.suffix == ".pkl":
        with path.open("rb") as f:
            data = _SmplUnpickler(f, encoding="latin1").load()
        if not isinstance(data, dict):
            raise ValueError(f"{path} holds a {type(data).__name__}, expected a dict of SMPL arrays")
        return {str(key): _to_array(value) for key, value in data.items()}
    raise ValueError(f"unsupported body-model file {path}: expected a .pkl or .npz SMPL file")


def body_model_from_smpl_arrays(
    arrays: Mapping[str, Any],
    num_betas: int | None = NUM_BETAS,
    name: str = "smpl",
    source: str = "SMPL arrays",
    J_regressor_h36m: np.ndarray | None = None,
    J_regressor_extra: np.ndarray | None = None,
) -> BodyModel:
    """Convert the SMPL file layout to :class:`BodyModel` buffers.

    ``posedirs [V,3,P]`` -> ``[3V,P]`` -> transposed ``[P,3V]``; ``parents`` =
    ``kintree_table[0]`` with the root set to -1; ``shapedirs`` truncated to ``num_betas``
    (``None`` keeps all). Arrays are cast to float32 after these exact re-layouts.

    Args:
        arrays: the file's entries (see :func:`read_smpl_arrays`).
        num_betas: number of shape coefficients to keep.
        name: the model's name.
        source: where the arrays came from, for error messages.
        J_regressor_h36m: optional ``[17, V]`` regressor.
        J_regressor_extra: optional ``[9, V]`` regressor.
    """
    missing = [key for key in _REQUIRED_KEYS if key not in arrays]
    if missing:
        raise ValueError(f"{source} is missing the SMPL entries {missing} (has {sorted(arrays)})")
    dense = {key: np.asarray(_to_array(arrays[key])) for key in _REQUIRED_KEYS}
    for key, value in dense.items():
        if value.dtype == object:
            raise ValueError(f"{source}: entry {key!r} is an object array, expected a numeric array")

    v_template = dense["v_template"]
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise ValueError(f"{source}: 'v_template' must have shape [V, 3], got {list(v_template.shape)}")
    num_verts = v_template.shape[0]

    shapedirs = dense["shapedirs"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_verts, 3):
        raise ValueError(
            f"{source}: 'shapedirs' must have shape [{num_verts}, 3, S], got {list(shapedirs.shape)}"
        )
    if num_betas is not None:
        if shapedirs.shape[2] < num_betas:
            raise ValueError(
                f"{source}: 'shapedirs' has {shapedirs.shape[2]} shape directions, fewer than "
                f"num_betas={num_betas}; pass num_betas <= {shapedirs.shape[2]}"
            )
        shapedirs = shapedirs[:, :, :num_betas]

    posedirs = dense["posedirs"]
    if posedirs.ndim != 3 or posedirs.shape[:2] != (num_verts, 3):
        raise ValueError(
            f"{source}: 'posedirs' must have shape [{num_verts}, 3, P], got {list(posedirs.shape)}"
        )
    posedirs = posedirs.reshape(num_verts * 3, -1).T  # [V, 3, P] -> [3V, P] -> [P, 3V]

    kintree = dense["kintree_table"]
    if kintree.ndim != 2 or kintree.shape[0] != 2:
        raise ValueError(f"{source}: 'kintree_table' must have shape [2, J], got {list(kintree.shape)}")
    parents = kintree[0].astype(np.int64)  # the root's entry is 2**32 - 1 in the official file
    parents[0] = -1

    faces = dense["f"]
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"{source}: 'f' (faces) must have shape [F, 3], got {list(faces.shape)}")

    def f32(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float32)

    try:
        return BodyModel(
            v_template=f32(v_template),
            shapedirs=f32(shapedirs),
            posedirs=f32(posedirs),
            J_regressor=f32(dense["J_regressor"]),
            parents=parents,
            lbs_weights=f32(dense["weights"]),
            faces=faces.astype(np.int64),
            J_regressor_h36m=None if J_regressor_h36m is None else f32(J_regressor_h36m),
            J_regressor_extra=None if J_regressor_extra is None else f32(J_regressor_extra),
            name=name,
        )
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from err


def load_smpl_file(path: PathLike, num_betas: int | None = NUM_BETAS, name: str = "smpl") -> BodyModel:
    """Load an SMPL-format ``.pkl`` (official, chumpy-pickled) or ``.npz`` body model.

    Args:
        path: the model file.
        num_betas: number of shape coefficients to keep (``None``: all in the file).
        name: the model's name.
    """
    path = Path(path)
    arrays = read_smpl_arrays(path)
    logger.debug("loaded SMPL-format model from %s", path)
    return body_model_from_smpl_arrays(arrays, num_betas=num_betas, name=name, source=str(path))


# --------------------------------------------------------------------------- data/mesh folder


@dataclass
class MeshAssets:
    """Everything a mesh head needs from the official ``data/mesh`` folder.

    Attributes:
        body_model: the neutral SMPL model with ``J_regressor_h36m`` and ``J_regressor_extra``.
        init_pose: ``[144]`` float32 SPIN mean pose (24 x 6-D layout 'spin_columns'),
            or ``None`` if ``smpl_mean_params.npz`` is absent.
        init_shape: ``[10]`` float32 mean betas, or ``None``.
        mean_vertices: ``[V, 3]`` float32 mean mesh (DiffMesh template), or ``None`` if
            ``smpl_mean_vertices.npy`` is absent.
    """

    body_model: BodyModel
    init_pose: torch.Tensor | None
    init_shape: torch.Tensor | None
    mean_vertices: torch.Tensor | None


def _load_npy(folder: Path, filename: str, expected: tuple[int, ...]) -> np.ndarray:
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"{filename} not found in {folder} (expected {path}); put the official data/mesh "
            f"files in DATA_ROOT, or use the open body model (the default)"
        )
    array = np.load(path, allow_pickle=False)
    if array.shape != expected:
        raise ValueError(f"{path}: expected shape {list(expected)}, got {list(array.shape)}")
    return array


def _resolve_mesh_folder(data_root: Path) -> Path:
    """Accept both ``data/mesh`` itself and its parent ``data``."""
    for folder in (data_root, data_root / "mesh"):
        if (folder / SMPL_MODEL_FILE).is_file():
            return folder
    raise FileNotFoundError(
        f"{SMPL_MODEL_FILE} not found in {data_root} (expected {data_root / SMPL_MODEL_FILE}); "
        f"{_SMPL_FIX}"
    )


def load_smpl_folder(data_root: PathLike, num_betas: int = NUM_BETAS) -> MeshAssets:
    """Load the official ``data/mesh`` folder (or its parent).

    Required: ``SMPL_NEUTRAL.pkl``, ``J_regressor_h36m_correct.npy`` ``[17, V]``,
    ``J_regressor_extra.npy`` ``[9, V]``. Optional: ``smpl_mean_params.npz`` (``pose``
    ``[144]``, ``shape`` ``[10]``) and ``smpl_mean_vertices.npy`` ``[V, 3]``.

    Args:
        data_root: the folder holding these files (``data/mesh``) or its parent.
        num_betas: number of shape coefficients to keep.
    """
    folder = _resolve_mesh_folder(Path(data_root))
    arrays = read_smpl_arrays(folder / SMPL_MODEL_FILE)
    num_verts = int(np.shape(arrays.get("v_template", np.zeros((0, 3))))[0])
    body_model = body_model_from_smpl_arrays(
        arrays,
        num_betas=num_betas,
        source=str(folder / SMPL_MODEL_FILE),
        J_regressor_h36m=_load_npy(folder, H36M_REGRESSOR_FILE, (NUM_H36M_JOINTS, num_verts)),
        J_regressor_extra=_load_npy(folder, EXTRA_REGRESSOR_FILE, (NUM_EXTRA_JOINTS, num_verts)),
    )

    init_pose = init_shape = mean_vertices = None
    params_path = folder / MEAN_PARAMS_FILE
    if params_path.is_file():
        with np.load(params_path, allow_pickle=False) as params:
            for key, size in (("pose", MEAN_POSE_SIZE), ("shape", NUM_BETAS)):
                if key not in params.files or params[key].shape != (size,):
                    shape = list(params[key].shape) if key in params.files else "missing"
                    raise ValueError(f"{params_path}: entry {key!r} must have shape [{size}], got {shape}")
            init_pose = torch.from_numpy(params["pose"].astype(np.float32))
            init_shape = torch.from_numpy(params["shape"].astype(np.float32))
    if (folder / MEAN_VERTICES_FILE).is_file():
        mean_vertices = torch.from_numpy(
            _load_npy(folder, MEAN_VERTICES_FILE, (num_verts, 3)).astype(np.float32)
        )
    return MeshAssets(body_model, init_pose, init_shape, mean_vertices)


# --------------------------------------------------------------------------- one entry point


def _load_open() -> BodyModel:
    try:
        open_model = importlib.import_module("diffmesh.body.open_model")
    except ModuleNotFoundError as err:
        if err.name != "diffmesh.body.open_model":
            raise
        raise ValueError(
            "the open body model asset is not installed (diffmesh.body.open_model is missing); "
            "pass a path to SMPL_NEUTRAL.pkl or to the official data/mesh folder instead"
        ) from err
    if not hasattr(open_model, "load_open"):
        raise ValueError("the open body model asset is not installed (no diffmesh.body.open_model.load_open)")
    return open_model.load_open()


def load(source: PathLike = "open", num_betas: int = NUM_BETAS) -> BodyModel:
    """Load a body model from ``"open"``, an SMPL ``.pkl``/``.npz`` file or a ``data/mesh`` folder.

    Args:
        source: ``"open"`` (the shipped open body model), a model file, or a folder holding
            the official ``data/mesh`` files (then the H36M/extra regressors are attached).
        num_betas: number of shape coefficients to keep (files only).
    """
    if isinstance(source, str) and source == "open":
        return _load_open()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"body-model source {path} does not exist; {_SMPL_FIX}")
    if path.is_dir():
        assets = load_smpl_folder(path, num_betas=num_betas)
        means = {"init_pose": assets.init_pose, "init_shape": assets.init_shape, "mean_vertices": assets.mean_vertices}
        assets.body_model.mean_params = {key: value for key, value in means.items() if value is not None}
        return assets.body_model
    if path.suffix not in (".pkl", ".npz"):
        raise ValueError(
            f"unsupported body-model source {str(source)!r}: expected 'open', a .pkl/.npz SMPL file "
            f"or a data/mesh folder"
        )
    return load_smpl_file(path, num_betas=num_betas)
