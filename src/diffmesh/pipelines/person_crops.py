"""Where the several-people detector looks (:mod:`diffmesh.pipelines.people`): landmark boxes, the
square crop each person's detector sees, painted-over regions and discovery's tiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CROP_MARGIN", "CROP_SIZE", "MASK_PAD", "RECROP_SCALE", "DUPLICATE_DISTANCE", "DUPLICATE_IOU", "REFIND_DISTANCE", "REFIND_IOU", "RECROP_SHIFT", "TILE_FRACTION", "Crop", "WholeFrame", "box_height",
           "box_iou", "box_region", "discovery_tiles", "landmark_box", "refinds", "same_person", "SHADOW_FOOT_DISTANCE", "SHADOW_TILT_DEG", "shadow_of"]  # fmt: skip

#: Side of a person's crop, in the crop's own pixels: the detector always sees this size.
CROP_SIZE = 384
#: Crop side / the larger side of the person's box.
CROP_MARGIN = 2.0
#: A new crop when the person's box moves by this fraction of the crop side, or its size by this
#: factor. Each new crop jolts BlazePose's landmark smoothing (in crop coordinates): rare ones
#: keep keypoints within ~1 px of the whole-frame detector's (tests/test_people.py).
RECROP_SHIFT, RECROP_SCALE = 0.2, 1.25
#: Painted-over boxes are enlarged by this fraction of their size on every side.
MASK_PAD = 0.1
#: Discovery's tiles: squares of this fraction of the frame's shorter side. In 640x480 frames the
#: whole frame finds people from ~140 px tall, the tiles from ~80 px (tests/test_people.py).
TILE_FRACTION = 2 / 3
#: Two detections are one person above this box IoU or below this mean landmark distance (heights).
DUPLICATE_IOU, DUPLICATE_DISTANCE = 0.7, 0.2
#: After a gap, the same person is found above this IoU with their last box or within this
#: centre distance (body heights).
REFIND_IOU, REFIND_DISTANCE = 0.3, 0.5


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Box ``[4]`` (x0, y0, x1, y1 pixels) of ``[33, >=2]`` landmarks (BlazePose places hidden ones too)."""
    xy = landmarks[:, :2].astype(np.float64)
    return np.concatenate([xy.min(0), xy.max(0)])


def box_height(box: np.ndarray) -> float:
    return float(box[3] - box[1])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    return float(inter / max((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9))


def discovery_tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles ``(x0, y0, side)`` covering the image, overlapping by a quarter at least."""
    side = max(int(TILE_FRACTION * min(width, height)), 1)
    xs, ys = (np.linspace(0, n - side, int(np.ceil((n - side) / (0.75 * side))) + 1).round() for n in (width, height))
    return [(int(x), int(y), side) for y in ys for x in xs] if side >= 64 else []  # tiny frames: the whole is enough


def box_region(box: np.ndarray, pad: float = 0.0) -> tuple[slice, slice]:
    """Rows and columns of ``box`` grown by ``pad`` times its size on each side (numpy clips the far ends)."""
    w, h = box[2] - box[0], box[3] - box[1]
    x0, y0, x1, y1 = np.round(box + pad * np.array([-w, -h, w, h])).astype(int).clip(0, None)
    return slice(y0, y1), slice(x0, x1)


@dataclass(frozen=True)
class Crop:
    """A square window of the image, ``side`` pixels from ``(x0, y0)``; may reach beyond the image."""

    x0: int
    y0: int
    side: int

    @classmethod
    def around(cls, box: np.ndarray, width: int, height: int) -> Crop:
        side = max(int(round(CROP_MARGIN * max(box[2] - box[0], box[3] - box[1]))), 16)
        x0, y0 = int(round((box[0] + box[2] - side) / 2)), int(round((box[1] + box[3] - side) / 2))
        # inside the image where the square fits (more real pixels); centred and padded where not
        x0 = min(max(x0, 0), width - side) if side <= width else x0
        y0 = min(max(y0, 0), height - side) if side <= height else y0
        return cls(x0, y0, side)

    def close_to(self, other: Crop | WholeFrame) -> bool:
        if not isinstance(other, Crop):
            return False
        shift = max(abs(self.x0 - other.x0), abs(self.y0 - other.y0)) + abs(self.side - other.side) / 2
        return shift <= RECROP_SHIFT * self.side and 1 / RECROP_SCALE <= other.side / self.side <= RECROP_SCALE

    def cut(self, image: np.ndarray, fill: np.ndarray, others: list[np.ndarray], own: np.ndarray) -> np.ndarray:
        """The window as a ``[CROP_SIZE, CROP_SIZE, 3]`` image: outside the frame and inside the
        ``others`` boxes (except where they overlap the ``own`` box) filled with ``fill``."""
        import cv2

        (h, w), scale, size = image.shape[:2], CROP_SIZE / self.side, (CROP_SIZE, CROP_SIZE)
        if 0 <= self.x0 and 0 <= self.y0 and self.x0 + self.side <= w and self.y0 + self.side <= h:
            window = image[self.y0 : self.y0 + self.side, self.x0 : self.x0 + self.side]
            canvas = cv2.resize(window, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)
        else:  # the same pixel-centre mapping as cv2.resize, padded with `fill`
            src = np.array([[1 / scale, 0, self.x0 + 0.5 / scale - 0.5], [0, 1 / scale, self.y0 + 0.5 / scale - 0.5]])
            canvas = cv2.warpAffine(image, src, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(int(v) for v in fill))  # fmt: skip
        origin = np.array([self.x0, self.y0] * 2)
        own_region, keep = box_region((own - origin) * scale), None
        for box in others:
            keep = canvas[own_region].copy() if keep is None else keep
            canvas[box_region((box - origin) * scale, MASK_PAD)] = fill
        if keep is not None:
            canvas[own_region] = keep
        return canvas

    def to_image(self, landmarks: np.ndarray) -> np.ndarray:
        """Landmarks ``[33, 4]`` (x, y, z in crop pixels, visibility) → full-image pixels."""
        out = landmarks.copy()
        out[:, :3] *= self.side / CROP_SIZE
        out[:, :2] += (self.x0, self.y0)
        return out


@dataclass(frozen=True)
class WholeFrame:
    """The image as it is, unresized: what a person's detector sees while nobody else is followed
    (the one-person detector's view, so one person's keypoints do not depend on ``--max-people``)."""

    def close_to(self, other: Crop | WholeFrame) -> bool:
        return isinstance(other, WholeFrame)

    def cut(self, image: np.ndarray, fill: np.ndarray, others: list[np.ndarray], own: np.ndarray) -> np.ndarray:
        """``image``, with the ``others`` boxes (if any; there are none while the person is alone) filled."""
        if not others:
            return image
        canvas, keep = image.copy(), image[box_region(own)].copy()
        for box in others:
            canvas[box_region(box, MASK_PAD)] = fill
        canvas[box_region(own)] = keep
        return canvas

    def to_image(self, landmarks: np.ndarray) -> np.ndarray:
        return landmarks.copy()


#: A newcomer is taken for someone's shadow (or reflection) when it starts at their feet (one of its
#: landmarks within this many of their heights of one of their foot points: ankle, heel or toe) and
#: does not stand up (its ankles-to-shoulders direction more than :data:`SHADOW_TILT_DEG` from the
#: image's up; a shadow read head-down counts). On the rendered benchmark walkers' shadows on the floor
#: were found as second people (`06_walk_away`, `07_walk_away`): a landmark within 0.3 heights of the
#: walker's feet, axes 24-125 degrees from the vertical; someone standing at another's side (vtest.avi's
#: couple) stands up, so is kept.
SHADOW_FOOT_DISTANCE, SHADOW_TILT_DEG = 0.3, 20.0
_FOOT_POINTS = [27, 28, 29, 30, 31, 32]  # BlazePose-33: left/right ankle, heel, foot index
_SHOULDERS, _ANKLES = [11, 12], [27, 28]


def shadow_of(newcomer: np.ndarray, person: np.ndarray) -> bool:
    """``newcomer`` landmarks ``[33, >=2]`` look like ``person``'s shadow (:data:`SHADOW_FOOT_DISTANCE`,
    :data:`SHADOW_TILT_DEG`)."""
    a, b = newcomer[:, None, :2], person[None, _FOOT_POINTS, :2]
    if float(np.linalg.norm(a - b, axis=-1).min()) >= SHADOW_FOOT_DISTANCE * max(box_height(landmark_box(person)), 1.0):
        return False
    dx, dy = newcomer[_SHOULDERS, :2].mean(0) - newcomer[_ANKLES, :2].mean(0)
    return float(np.degrees(np.arctan2(abs(dx), -dy))) > SHADOW_TILT_DEG  # image y points down


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Two landmark sets ``[33, >=2]`` of one person (:data:`DUPLICATE_IOU`, :data:`DUPLICATE_DISTANCE`)."""
    box_a, box_b = landmark_box(a), landmark_box(b)
    distance = float(np.linalg.norm(a[:, :2] - b[:, :2], axis=-1).mean())
    return box_iou(box_a, box_b) > DUPLICATE_IOU or distance < DUPLICATE_DISTANCE * max(box_height(box_a), box_height(box_b), 1.0)


def refinds(last: np.ndarray, box: np.ndarray) -> bool:
    """``box`` is the missing person last seen at ``last`` (:data:`REFIND_IOU`, :data:`REFIND_DISTANCE`)."""
    shift = np.hypot((last[0] + last[2] - box[0] - box[2]) / 2, (last[1] + last[3] - box[1] - box[3]) / 2)
    return box_iou(last, box) > REFIND_IOU or shift < REFIND_DISTANCE * max(box_height(last), 1.0)
