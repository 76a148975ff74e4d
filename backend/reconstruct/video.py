"""MediaPipe Holistic landmarks from a video, streamed frame by frame with OpenCV.

Tracking mode (``static_image_mode=False``) over the frames in order; each frame is read,
turned upright by the file's rotation metadata (OpenCV's own auto-rotation is switched off
so that the rotation is applied exactly once), downscaled when its long side exceeds
``MAX_SIDE`` and dropped after MediaPipe has seen it: memory holds the landmarks, never
the video. Frame times are the container's timestamps (variable frame rates keep their
real spacing). A clip of more than a second is split at its middle and the two halves
are tracked by two Holistic graphs in two threads (about 1.4x faster on two cores).
opencv + mediapipe; never bpy.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from blender_addon.core.errors import MissingExtraError

from ..io.pose import NUM_FACE, LandmarkError, Landmarks

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".gif", ".mpg", ".mpeg")
MAX_SIDE = 1280              # frames larger than this are downscaled before detection
MAX_PIXELS = 8192 * 8192     # beyond this a "video" is refused outright
MAX_FRAMES = 36_000          # 20 minutes at 30 fps: landmarks stay well under 300 MB
# A video that decodes fewer frames than its container lists, by more than this (frames, or
# share of them: containers without a frame index give an estimate from the duration), is
# truncated or damaged and refused.
MISSING_FRAMES_OK, MISSING_SHARE_OK = 2, 0.02


class VideoError(LandmarkError):
    """A video that cannot be read or used; the message says why."""


def _cv2():
    """cv2, with FFmpeg's own log lines off (a damaged file would print a screenful before the
    one line SignForge says about it); OPENCV_FFMPEG_LOGLEVEL set by the user wins."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        import cv2
    except ImportError:
        raise MissingExtraError("reading video", "video", "cv2") from None
    return cv2


def _rotation(cap) -> int:
    import cv2

    try:
        meta = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META))) % 360
    except Exception:
        meta = 0
    return meta if meta in (90, 180, 270) else 0


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """The frame turned by the container's rotation (degrees clockwise to display it)."""
    import cv2

    if rotation == 90:
        return cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)
    if rotation == 180:
        return cv2.rotate(frame, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return frame


def probe(path: str | os.PathLike) -> dict:
    """Frame count, rate, size (upright) and rotation of a video, or a VideoError."""
    cv2 = _cv2()
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: not a video OpenCV can open (corrupt, truncated or another kind of file)")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        rot = _rotation(cap)
        if rot in (90, 270):
            w, h = h, w
        return {"frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                "width": w, "height": h, "rotation": rot}
    finally:
        cap.release()


PARALLEL_MIN_FRAMES = 24    # shorter ranges are tracked by one graph: a second would mostly start up


def extract_video(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                  progress: Callable[[int, int], None] | None = None, model_complexity: int = 1,
                  timings: dict | None = None, workers: int | None = None, turn: int = 0) -> Landmarks:
    """Holistic landmarks for the frames of ``path`` whose time lies in [start, end] seconds.

    ``turn`` (0, 90, 180 or 270 degrees clockwise) turns every frame after the file's own
    rotation metadata: for a signer filmed sideways by a camera that wrote none. A video that
    decodes fewer frames than its container lists (beyond MISSING_FRAMES_OK and
    MISSING_SHARE_OK) is refused as truncated.

    With ``workers`` = 2 (the default where there are two cores or more) a range of at least
    PARALLEL_MIN_FRAMES frames is split at its middle time, and each half is streamed and
    tracked by its own Holistic graph in its own thread (MediaPipe runs outside the GIL; one
    graph keeps only ~1.3 cores busy). The second half starts with a fresh detection, as
    tracking does after a lost hand.
    """
    path = Path(path)
    info = probe(path)
    if turn % 360:
        info["rotation"] = (info["rotation"] + turn) % 360
        if turn % 180:
            info["width"], info["height"] = info["height"], info["width"]
    w0, h0 = info["width"], info["height"]
    if w0 <= 0 or h0 <= 0:
        raise VideoError(f"{path}: the video reports no frame size (corrupt header?)")
    if w0 * h0 > MAX_PIXELS:
        raise VideoError(f"{path}: {w0}x{h0} frames are too large to be a camera video (limit {MAX_PIXELS} pixels)")
    nominal = info["fps"] if 0 < info["fps"] <= 1000 else 0.0
    total = info["frames"] if info["frames"] > 0 else 0
    if total > 0 and nominal > 0 and start is not None:
        total = max(0, total - int(start * nominal))
    if total > 0 and nominal > 0 and end is not None:
        total = min(total, int((end - (start or 0.0)) * nominal) + 1)
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    t_wall = time.perf_counter()
    if workers < 2 or total < PARALLEL_MIN_FRAMES or nominal <= 0:
        parts = [_extract_range(path, info, start, end, None, _Progress(progress, total), model_complexity)]
    else:
        first = float(start or 0.0)
        mid = first + (total / nominal) / 2
        parts = _in_threads(path, info, [(start, mid), (mid, end)], _Progress(progress, total), model_complexity)
    parts = [p for p in parts if p["times"]]
    if timings is not None:
        decode = max(p["decode_s"] for p in parts) if parts else 0.0
        timings["decode_s"] = timings.get("decode_s", 0.0) + decode
        timings["landmarks_s"] = timings.get("landmarks_s", 0.0) + time.perf_counter() - t_wall - decode
    if not parts:
        what = "in the chosen time range" if (start or end) else "at all"
        raise VideoError(f"{path}: no frame could be decoded {what} (zero frames, truncated or corrupt)")
    times = np.asarray([t for p in parts for t in p["times"]], np.float64)
    _check_complete(path, len(times), total, info, start, end, float(times[-1]))
    fps = nominal
    if len(times) > 1:
        measured = 1.0 / float(np.median(np.diff(times)))
        fps = measured if not (0 < nominal <= 1000) or abs(measured - nominal) > 0.05 * nominal else nominal
    if not (0 < fps <= 1000):
        fps = 30.0
    cat = lambda k: np.stack([a for p in parts for a in p[k]])  # noqa: E731
    width, height = parts[0]["size"]
    return Landmarks(cat("pose"), cat("conf"), cat("left"), cat("right"), cat("face"), cat("world"),
                     width, height, times - times[0], float(fps))


def _check_complete(path: Path, decoded: int, expected: int, info: dict, start, end, last_t: float) -> None:
    """VideoError when fewer frames decoded than the container lists for the range: a cut
    download keeps its header (the count and duration) and loses the frames past the cut."""
    if expected <= 0 or info["fps"] <= 0:
        return                                   # the container lists no count: nothing to check
    missing = expected - decoded
    if missing <= max(MISSING_FRAMES_OK, MISSING_SHARE_OK * expected):
        return
    where = "in the chosen range" if (start or end is not None) else "it lists"
    length = info["frames"] / info["fps"]
    raise VideoError(f"{path}: truncated or damaged: only {decoded} of the {expected} frames {where} could be "
                     f"decoded (decoding stops at {last_t:.2f} s of {length:.2f} s); nothing was reconstructed "
                     f"from it: re-download or re-export the video")


class _Progress:
    """Frames done across the threads of one extraction, reported as (done, total)."""

    def __init__(self, report: Callable[[int, int], None] | None, total: int):
        self.report, self.total, self.done = report, total, 0
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.report is not None:
                self.report(self.done, max(self.total, self.done))


def _in_threads(path: Path, info: dict, ranges, progress: _Progress, model_complexity: int) -> list[dict]:
    """One ``_extract_range`` per [from, until) range, each in its own thread. The first
    error (a bad frame, or the progress callback asking to stop) stops every thread and is
    raised here."""
    stop = threading.Event()
    results: list = [None] * len(ranges)
    errors: list = []

    def work(i: int, a, b) -> None:
        try:
            last = i + 1 == len(ranges)
            results[i] = _extract_range(path, info, a, b, None if last else b, progress, model_complexity, stop)
        except BaseException as exc:   # re-raised in the caller's thread
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(i, a, b), daemon=True) for i, (a, b) in enumerate(ranges)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _extract_range(path: Path, info: dict, start: float | None, end: float | None, until: float | None,
                   progress: _Progress, model_complexity: int, stop: threading.Event | None = None) -> dict:
    """Landmarks of the frames whose time t has start <= t <= end (and t < ``until``), with
    absolute times; streamed, each frame dropped once MediaPipe has seen it."""
    cv2 = _cv2()
    try:
        import mediapipe as mp
    except ImportError:
        raise MissingExtraError("tracking a video (MediaPipe Holistic)", "video", "mediapipe") from None

    w0, h0 = info["width"], info["height"]
    scale = min(1.0, MAX_SIDE / max(w0, h0))
    width, height = (int(round(w0 * scale)), int(round(h0 * scale)))
    nominal = info["fps"] if 0 < info["fps"] <= 1000 else 0.0
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    rotation = info["rotation"]
    if start:
        cap.set(cv2.CAP_PROP_POS_MSEC, float(start) * 1000.0)
    out = {k: [] for k in ("pose", "conf", "left", "right", "face", "world", "times")}
    out["size"] = (width, height)
    times = out["times"]
    t_read = 0.0
    holistic = mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=model_complexity,
                                              smooth_landmarks=True, refine_face_landmarks=False)
    last_t = -1.0
    try:
        while stop is None or not stop.is_set():
            t0 = time.perf_counter()
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            stamp = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            n = len(times)
            if not np.isfinite(stamp) or stamp <= last_t:   # missing or repeated stamps: nominal spacing
                stamp = (last_t + 1.0 / (nominal or 30.0)) if n else float(start or 0.0)
            if start is not None and stamp < start - 1e-6:
                continue
            if (end is not None and stamp > end + 1e-6) or (until is not None and stamp >= until):
                break
            last_t = stamp
            if len(times) >= MAX_FRAMES:
                raise VideoError(f"{path}: longer than {MAX_FRAMES} frames; reconstruct it in parts "
                                 f"with --start/--end")
            frame = upright(frame, rotation)
            if scale < 1.0:
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            t_read += time.perf_counter() - t0
            res = holistic.process(rgb)
            times.append(stamp)
            p, c, wl = _body(res, width, height)
            out["pose"].append(p)
            out["conf"].append(c)
            out["world"].append(wl)
            out["left"].append(_points(res.left_hand_landmarks, 21, width, height, rel=0))
            out["right"].append(_points(res.right_hand_landmarks, 21, width, height, rel=0))
            out["face"].append(_points(res.face_landmarks, NUM_FACE, width, height, rel=None))
            progress.step()
    finally:
        holistic.close()
        cap.release()
    out["decode_s"] = t_read
    return out


def _points(lms, n: int, width: int, height: int, rel: int | None) -> np.ndarray:
    if lms is None:
        return np.full((n, 3), np.nan, np.float32)
    a = np.array([(p.x * width, p.y * height, p.z * width) for p in lms.landmark], np.float32)[:n]
    a[:, 2] -= a[rel, 2] if rel is not None else a[:, 2].mean()
    return a


def _body(res, width: int, height: int):
    if res.pose_landmarks is None:
        return (np.full((33, 3), np.nan, np.float32), np.zeros(33, np.float32),
                np.full((33, 3), np.nan, np.float32))
    lm = res.pose_landmarks.landmark
    p = np.array([(q.x * width, q.y * height, q.z * width) for q in lm], np.float32)
    p[:, 2] -= p[11:13, 2].mean()
    c = np.array([q.visibility for q in lm], np.float32).clip(0, 1)
    if res.pose_world_landmarks is not None:
        wl = np.array([(q.x, q.y, q.z) for q in res.pose_world_landmarks.landmark], np.float32)
    else:
        wl = np.full((33, 3), np.nan, np.float32)
    return p, c, wl
