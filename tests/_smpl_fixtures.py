"""Generated SMPL-format body models for tests (no SMPL files, no chumpy, no smplx).

``make_smpl_arrays`` builds a random but plausible model in the SMPL *file* layout
(``posedirs [V,3,207]``, ``kintree_table [2,24]``, float64 like the official pickle):
vertices scattered along the bones of a 24-joint skeleton with ``SMPL_PARENTS``, skinning
weights split between a vertex's joint and its parent (rows sum to 1, many exact zeros),
and a joint regressor averaging each joint's vertices (rows sum to 1).

``write_chumpy_pkl`` writes what the official ``SMPL_NEUTRAL.pkl`` looks like to an
unpickler: chumpy ``Ch`` objects (value in state key ``'x'``) and a ``scipy.sparse``
``csc_matrix`` joint regressor. Without chumpy installed, pickle can only record those
class paths if the modules can be imported, so fake modules are placed in ``sys.modules``
for the duration of the dump and removed afterwards.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from diffmesh.conventions import NUM_H36M_JOINTS, SMPL_PARENTS

NUM_POSE_FEATURES = 9 * (len(SMPL_PARENTS) - 1)  # 207


def make_smpl_arrays(num_verts: int = 480, num_betas: int = 10, seed: int = 0) -> dict[str, Any]:
    """A random SMPL-format model in the file layout (keys of ``SMPL_NEUTRAL.pkl``)."""
    rng = np.random.default_rng(seed)
    parents = np.array(SMPL_PARENTS)
    num_joints = len(parents)

    # Skeleton: each joint 10-25 cm from its parent in a random direction.
    joints = np.zeros((num_joints, 3))
    for j in range(1, num_joints):
        direction = rng.normal(size=3)
        joints[j] = joints[parents[j]] + direction / np.linalg.norm(direction) * rng.uniform(0.1, 0.25)

    # Vertices: each belongs to one joint (round robin, so every joint has some) and sits
    # between that joint and its parent, plus noise. Its weight goes to the joint and, for
    # half of the vertices, partly to the parent (so some vertices blend two transforms).
    owner = np.arange(num_verts) % num_joints
    t = rng.uniform(0.0, 0.5, size=num_verts)
    t[owner == 0] = 0.0
    parent_pos = joints[np.maximum(parents[owner], 0)]
    v_template = joints[owner] + t[:, None] * (parent_pos - joints[owner])
    v_template += rng.normal(scale=0.02, size=(num_verts, 3))

    weights = np.zeros((num_verts, num_joints))
    blend = np.where((np.arange(num_verts) // num_joints) % 2 == 1, t, 0.0)
    weights[np.arange(num_verts), owner] = 1.0 - blend
    has_parent = owner > 0
    weights[np.arange(num_verts)[has_parent], parents[owner[has_parent]]] += blend[has_parent]

    J_regressor = np.zeros((num_joints, num_verts))
    J_regressor[owner, np.arange(num_verts)] = 1.0
    J_regressor /= J_regressor.sum(axis=1, keepdims=True)

    # Faces: random triples of distinct vertices (topology is irrelevant to skinning).
    first = rng.integers(num_verts, size=2 * num_verts)
    faces = rng.permutation(num_verts)[(first[:, None] + np.arange(3)) % num_verts]  # [F, 3]
    kintree_table = np.stack([parents, np.arange(num_joints)]).astype(np.int64)
    kintree_table[0, 0] = 2**32 - 1  # as in the official file (uint32 -1)

    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(num_verts, 3, num_betas)),
        "posedirs": rng.normal(scale=0.002, size=(num_verts, 3, NUM_POSE_FEATURES)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree_table,
        "f": faces.astype(np.uint32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def make_h36m_regressor(num_verts: int, seed: int = 1) -> np.ndarray:
    """A ``[17, V]`` regressor with rows summing to 1."""
    rng = np.random.default_rng(seed)
    reg = rng.uniform(size=(NUM_H36M_JOINTS, num_verts)) * (rng.uniform(size=(NUM_H36M_JOINTS, num_verts)) < 0.05)
    reg[:, 0] += 1e-3  # no empty row
    return reg / reg.sum(axis=1, keepdims=True)


def write_smpl_npz(path: Path, arrays: dict[str, Any]) -> Path:
    np.savez(path, **{k: v for k, v in arrays.items() if isinstance(v, np.ndarray)})
    return path


# --------------------------------------------------------------------------- chumpy-style pickle


class FakeCh:
    """Pickles as ``chumpy.ch.Ch``: the value lives in the instance state under ``'x'``."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars: set[str] = set()
        self._itr = None
        self._depends_on_deps: dict[str, Any] = {}


class FakeChAdd:
    """Pickles as ``chumpy.ch_ops.add``: a derived object holding its operands."""

    def __init__(self, a: FakeCh, b: FakeCh) -> None:
        self.a = a
        self.b = b


class FakeCscMatrix:
    """Pickles as ``scipy.sparse.csc.csc_matrix`` (state of old scipy versions)."""

    def __init__(self, dense: np.ndarray) -> None:
        rows, cols = np.nonzero(dense.T)  # column-major order of the non-zeros
        self.data = dense.T[rows, cols]
        self.indices = cols.astype(np.int32)  # row index of each stored value
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[1]))]).astype(np.int32)
        self._shape = dense.shape
        self.maxprint = 50


_FAKE_CLASSES = {
    "chumpy.ch": ("Ch", FakeCh),
    "chumpy.ch_ops": ("add", FakeChAdd),
    "scipy.sparse.csc": ("csc_matrix", FakeCscMatrix),
}


@contextlib.contextmanager
def _fake_modules(include_scipy: bool) -> Iterator[None]:
    """Make the fake classes importable under their foreign names while pickling."""
    names = ["chumpy", "chumpy.ch", "chumpy.ch_ops"]
    if include_scipy:
        names += ["scipy", "scipy.sparse", "scipy.sparse.csc"]
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        for module, (qualname, cls) in _FAKE_CLASSES.items():
            if module in sys.modules and module in names:
                cls.__module__ = module
                cls.__qualname__ = cls.__name__ = qualname
                setattr(sys.modules[module], qualname, cls)
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _sparse(dense: np.ndarray) -> Any:
    """A real ``scipy.sparse.csc_matrix`` when scipy is installed, else the fake one."""
    try:
        import scipy.sparse  # noqa: PLC0415 - optional dependency
    except ImportError:
        return FakeCscMatrix(dense)
    return scipy.sparse.csc_matrix(dense)


def write_chumpy_pkl(path: Path, arrays: dict[str, Any]) -> Path:
    """Write ``arrays`` like the official SMPL pickle (protocol 2, chumpy + sparse)."""
    content: dict[str, Any] = {}
    for key, value in arrays.items():
        if key in ("v_template", "shapedirs", "posedirs", "weights"):
            content[key] = FakeCh(value)
        elif key == "J_regressor":
            content[key] = _sparse(value)
        else:
            content[key] = value
    # An unused derived chumpy object, like the official file's 'J' entry.
    content["J"] = FakeChAdd(FakeCh(arrays["J_regressor"] @ arrays["v_template"]), FakeCh(np.zeros(3)))
    with _fake_modules(include_scipy=isinstance(content["J_regressor"], FakeCscMatrix)):
        with path.open("wb") as f:
            pickle.dump(content, f, protocol=2)
    return path


def write_mesh_folder(folder: Path, arrays: dict[str, Any], with_means: bool = True) -> Path:
    """Write a fake official ``data/mesh`` folder: SMPL pickle, regressors, mean params."""
    folder.mkdir(parents=True, exist_ok=True)
    num_verts = arrays["v_template"].shape[0]
    write_chumpy_pkl(folder / "SMPL_NEUTRAL.pkl", arrays)
    np.save(folder / "J_regressor_h36m_correct.npy", make_h36m_regressor(num_verts))
    np.save(folder / "J_regressor_extra.npy", make_h36m_regressor(num_verts, seed=2)[:9])
    if with_means:
        rng = np.random.default_rng(3)
        np.savez(folder / "smpl_mean_params.npz", pose=rng.normal(size=144), shape=rng.normal(size=10), cam=np.ones(3))
        np.save(folder / "smpl_mean_vertices.npy", arrays["v_template"])
    return folder
