"""PNG files of uint8 RGB images through OpenCV (``opencv-python-headless``, in the ``video`` extra).

Written atomically (:func:`diffmesh.io.exports.atomic_write`).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = ["read_png", "write_png"]


def _cv2() -> ModuleType:
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            "reading and writing PNG files needs OpenCV: pip install opencv-python-headless "
            "(or pip install 'diffmesh[video]')"
        ) from err
    return cv2


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write a uint8 ``[H, W, 3]`` RGB image as PNG."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"image must be a uint8 numpy array of shape [H, W, 3], got "
            f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}"
        )
    cv2 = _cv2()
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))  # OpenCV stores BGR
    if not ok:
        raise ValueError(f"OpenCV could not encode a {list(image.shape)} image as PNG for {path}")
    from diffmesh.io.exports import atomic_write

    atomic_write(path, lambda f: f.write(data.tobytes()))


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PNG (or any image OpenCV reads) as a uint8 ``[H, W, 3]`` RGB array."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file {str(p)!r} does not exist")
    cv2 = _cv2()
    image = cv2.imdecode(np.fromfile(p, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{str(p)!r} is not a readable PNG file")
    return np.ascontiguousarray(image[..., ::-1])
