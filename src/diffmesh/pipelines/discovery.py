"""Discovery for the several-people detector (:mod:`diffmesh.pipelines.people`): searching a frame
for people nobody follows yet, on a worker thread.

A search is the static-image BlazePose detector run on the frame with everyone followed painted
over, again after painting over each person it finds, then (about once a second) on the frame's
tiles. It is a pure function of the painted frame (:func:`search`), so it can run beside the
follower: :class:`Searcher` runs it on its own thread, and the detector takes the result
:data:`DISCOVERY_LAG` frames later, following the people it found forward through the frames in
between. The result does not depend on how long the search took (the detector waits for it at that
frame), only on the lag: runs are reproducible.

Why: a search costs 15-45 ms per detector run (one for the frame, six more for the tiles), while
following one person takes ~27 ms per frame on one core of two; done in line, discovery made a
one-person video's keypoint pass 1.3x slower than the one-person detector's (docs/benchmarks.md §7.2).
Only while one person is followed: with several, a newcomer must be painted over in the others'
crops at once (on OpenCV's ``vtest.avi`` a lag of 5 cost the walking couple 16 of their 241 frames),
and each search is a smaller share of following everyone.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from diffmesh.pipelines.keypoints import PoseDetector
from diffmesh.pipelines.person_crops import MASK_PAD, REFIND_IOU, box_height, box_iou, box_region, discovery_tiles, landmark_box
from diffmesh.pipelines.person_track import Found

__all__ = ["DISCOVERY_LAG", "WINDOW_FINDS", "Pending", "Searcher", "search"]

#: Frames between a scheduled search's frame and the frame where its result is taken (at most
#: ``discover_every - 1``; 0 searches in line). Five frames of the followers (~135 ms on 2 cores)
#: cover a search with tiles (~110 ms); a newcomer's first frames are followed forward meanwhile.
DISCOVERY_LAG = 5
#: At most this many people are found in one window (the frame, a tile) per search.
WINDOW_FINDS = 16


def search(finder: PoseDetector, masked: np.ndarray, fill: np.ndarray, tiled: bool, seen: list[np.ndarray],
           min_height: float, room: int) -> list[Found]:  # fmt: skip
    """People in ``masked`` (followed people already painted over; painted further here in ``fill``), then in its
    tiles if ``tiled``: each person's detection in image pixels, in the order found, at most ``room``.

    Detections shorter than ``min_height`` pixels, or over a box in ``seen`` (what painting left of
    someone followed), are not returned. Each window is searched again after painting over what it
    found, until it finds nothing.
    """
    h, w = masked.shape[:2]
    seen, found = list(seen), []
    # views of `masked`: what is painted over shows in every window
    windows = [(0, 0, masked)] + [(x, y, masked[y : y + n, x : x + n]) for x, y, n in (discovery_tiles(w, h) if tiled else [])]
    for x0, y0, window in windows:
        for _ in range(min(room, WINDOW_FINDS) + 2):  # each find paints one more box over
            if len(found) >= room:
                return found
            if (result := finder.detect_with_world(window)) is None:
                break
            result = (result[0] + np.array([x0, y0, 0, 0], np.float32), result[1])  # to image pixels
            box = landmark_box(result[0])
            masked[box_region(box, MASK_PAD)] = fill
            if box_height(box) < min_height or any(box_iou(box, b) > REFIND_IOU for b in seen):
                continue
            seen.append(box)
            found.append(result)
    return found


@dataclass
class Pending:
    """A search under way: of frame ``frame`` (its image kept); newcomers are followed back to frame
    ``after`` (the search before)."""

    frame: int
    after: int
    image: np.ndarray
    result: Future[list[Found]]


class Searcher:
    """Runs :func:`search` with one static-image detector on one worker thread, in order."""

    def __init__(self, finder: PoseDetector, min_height: float) -> None:
        self.finder, self.min_height = finder, min_height
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="diffmesh-discovery")

    def submit(self, image: np.ndarray, fill: np.ndarray, seen: list[np.ndarray], tiled: bool,
               room: int) -> Future[list[Found]]:  # fmt: skip
        """Search ``image`` with the ``seen`` boxes painted over in ``fill`` (``image`` is not changed)."""
        masked = image.copy()
        for box in seen:
            masked[box_region(box, MASK_PAD)] = fill
        return self._pool.submit(search, self.finder, masked, fill, tiled, seen, self.min_height, room)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

