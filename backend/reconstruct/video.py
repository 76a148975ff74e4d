"""MediaPipe Holistic landmarks from a video, streamed frame by frame with OpenCV.

Tracking mode (``static_image_mode=False``) over the frames in order; each frame is read,
turned upright by the file's rotation metadata (OpenCV's own auto-rotation is switched off
so that the rotation is applied exactly once), downscaled when its long side exceeds
``MAX_SIDE`` and dropped after MediaPipe has seen it: memory holds the landmarks, never
the video. Frame times are the container's timestamps (variable frame rates keep their
real spacing). opencv + mediapipe; never bpy.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..io.pose import NUM_FACE, LandmarkError, Landmarks

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".gif", ".mpg", ".mpeg")
MAX_SIDE = 1280              # frames larger than this are downscaled before detection
MAX_PIXELS = 8192 * 8192     # beyond this a "video" is refused outright
MAX_FRAMES = 36_000          # 20 minutes at 30 fps: landmarks stay well under 300 MB


class VideoError(LandmarkError):
    """A video that cannot be read or used; the message says why."""


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
    import cv2

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


def extract_video(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                  progress: Callable[[int, int], None] | None = None, model_complexity: int = 1,
                  timings: dict | None = None) -> Landmarks:
    """Holistic landmarks for the frames of ``path`` whose time lies in [start, end] seconds."""
    import cv2
    import mediapipe as mp

    path = Path(path)
    info = probe(path)
    w0, h0 = info["width"], info["height"]
    if w0 <= 0 or h0 <= 0:
        raise VideoError(f"{path}: the video reports no frame size (corrupt header?)")
    if w0 * h0 > MAX_PIXELS:
        raise VideoError(f"{path}: {w0}x{h0} frames are too large to be a camera video (limit {MAX_PIXELS} pixels)")
    scale = min(1.0, MAX_SIDE / max(w0, h0))
    width, height = (int(round(w0 * scale)), int(round(h0 * scale)))
    nominal = info["fps"] if 0 < info["fps"] <= 1000 else 0.0
    total = info["frames"] if info["frames"] > 0 else 0
    if total > 0 and nominal > 0 and start is not None:
        total = max(0, total - int(start * nominal))
    if total > 0 and nominal > 0 and end is not None:
        total = min(total, int((end - (start or 0.0)) * nominal) + 1)
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    rotation = info["rotation"]
    if start:
        cap.set(cv2.CAP_PROP_POS_MSEC, float(start) * 1000.0)
    pose, conf, left, right, face, world, times = [], [], [], [], [], [], []
    t_read = t_detect = 0.0
    holistic = mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=model_complexity,
                                              smooth_landmarks=True, refine_face_landmarks=False)
    last_t = -1.0
    try:
        while True:
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
            if end is not None and stamp > end + 1e-6:
                break
            last_t = stamp
            if len(times) >= MAX_FRAMES:
                raise VideoError(f"{path}: longer than {MAX_FRAMES} frames; reconstruct it in parts "
                                 f"with --start/--end")
            frame = upright(frame, rotation)
            if scale < 1.0:
                frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            t1 = time.perf_counter()
            res = holistic.process(rgb)
            t2 = time.perf_counter()
            t_read += t1 - t0
            t_detect += t2 - t1
            times.append(stamp)
            p, c, wl = _body(res, width, height)
            pose.append(p)
            conf.append(c)
            world.append(wl)
            left.append(_points(res.left_hand_landmarks, 21, width, height, rel=0))
            right.append(_points(res.right_hand_landmarks, 21, width, height, rel=0))
            face.append(_points(res.face_landmarks, NUM_FACE, width, height, rel=None))
            if progress is not None:
                progress(len(times), max(total, len(times)))
    finally:
        holistic.close()
        cap.release()
    if timings is not None:
        timings["decode_s"] = timings.get("decode_s", 0.0) + t_read
        timings["landmarks_s"] = timings.get("landmarks_s", 0.0) + t_detect
    if not times:
        what = "in the chosen time range" if (start or end) else "at all"
        raise VideoError(f"{path}: no frame could be decoded {what} (zero frames, truncated or corrupt)")
    times = np.asarray(times, np.float64)
    fps = nominal
    if len(times) > 1:
        measured = 1.0 / float(np.median(np.diff(times)))
        fps = measured if not (0 < nominal <= 1000) or abs(measured - nominal) > 0.05 * nominal else nominal
    if not (0 < fps <= 1000):
        fps = 30.0
    return Landmarks(np.stack(pose), np.stack(conf), np.stack(left), np.stack(right), np.stack(face),
                     np.stack(world), width, height, times - times[0], float(fps))


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
