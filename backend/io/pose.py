"""MediaPipe Holistic landmarks in memory (``Landmarks``) and as pose-format ``.pose`` files.

``read_pose(path)`` accepts the full Holistic layout that pose-format writes
(POSE_LANDMARKS 33, FACE_LANDMARKS 468, LEFT/RIGHT_HAND_LANDMARKS 21 each, optionally
POSE_WORLD_LANDMARKS) and reduced ones (fewer body or face points, matched by name, as in
pose-format's ``reduce_holistic``). A file without the body or hand components, or whose
body lacks the shoulders, elbows or wrists, is refused with the missing names.
``write_pose(landmarks, path)`` writes the full layout, which ``pose_format.Pose.read``
reads back.

Coordinates follow pose-format: x and y in pixels of the (upright) frame, z as MediaPipe
gives it (relative depth in units of the frame width); world landmarks are stored as
pose-format stores them (x times width, y times height, z in metres). In memory,
``Landmarks`` keeps z in pixels (z times width) relative to the wrist (hands), the
shoulder centre (body) or the face centre, and world landmarks in metres; missing points
are NaN. numpy (+ pose-format); never bpy.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from blender_addon.core.errors import SignForgeError

# MediaPipe's landmark names (mp.solutions.holistic.PoseLandmark / HandLandmark), written
# out so that reading a file does not import mediapipe.
BODY_POINTS: tuple[str, ...] = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)
HAND_POINTS: tuple[str, ...] = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
    "PINKY_DIP", "PINKY_TIP",
)
NUM_FACE = 468
BODY_INDEX = {n: i for i, n in enumerate(BODY_POINTS)}
REQUIRED_BODY = ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST")
REQUIRED_COMPONENTS = ("POSE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")


class LandmarkError(SignForgeError, ValueError):
    """Landmarks (a .pose file, or what came out of a video) that cannot be used."""


@dataclass
class Landmarks:
    """MediaPipe Holistic landmarks of one signer over T frames (NaN where not found).

    Sides are MediaPipe's, which are the signer's own: ``left`` is the signer's left hand
    (on the image's right for an unmirrored camera).
    """
    pose: np.ndarray            # (T, 33, 3) px; z px relative to the shoulder centre
    pose_conf: np.ndarray       # (T, 33) visibility in [0, 1] (0 where missing)
    left: np.ndarray            # (T, 21, 3) px; z px relative to the wrist
    right: np.ndarray           # (T, 21, 3)
    face: np.ndarray            # (T, 468, 3) px; z px relative to the face centre
    world: np.ndarray | None    # (T, 33, 3) metres, MediaPipe axes (x right, y down, z away), hip-centred
    width: int
    height: int
    times: np.ndarray           # (T,) seconds of each frame
    fps: float                  # nominal rate (the rate the motion is written at)

    @property
    def num_frames(self) -> int:
        return len(self.pose)

    def hand_found(self, side: str) -> np.ndarray:
        hand = self.left if side == "left" else self.right
        return np.isfinite(hand[:, 0, 0])

    def cut(self, start: int, end: int) -> "Landmarks":
        s = slice(start, end)
        return Landmarks(self.pose[s], self.pose_conf[s], self.left[s], self.right[s], self.face[s],
                         None if self.world is None else self.world[s], self.width, self.height,
                         self.times[s], self.fps)


    def turned(self, degrees: int) -> "Landmarks":
        """The landmarks of the frames turned ``degrees`` (0, 90, 180, 270) clockwise: x and y
        move with the frame (whose width and height swap at 90 and 270), depth stays; world
        landmarks (x right, y down) turn about the camera axis the same way."""
        k = (int(degrees) // 90) % 4
        if k == 0:
            return self
        w, h = float(self.width), float(self.height)

        def image(a: np.ndarray) -> np.ndarray:
            x, y = a[..., 0], a[..., 1]
            xy = {1: (h - y, x), 2: (w - x, h - y), 3: (y, w - x)}[k]
            return np.stack([xy[0], xy[1], a[..., 2]], -1).astype(np.float32)

        def vector(a: np.ndarray) -> np.ndarray:
            x, y = a[..., 0], a[..., 1]
            xy = {1: (-y, x), 2: (-x, -y), 3: (y, -x)}[k]
            return np.stack([xy[0], xy[1], a[..., 2]], -1).astype(np.float32)

        size = (self.height, self.width) if k % 2 else (self.width, self.height)
        return Landmarks(image(self.pose), self.pose_conf, image(self.left), image(self.right), image(self.face),
                         None if self.world is None else vector(self.world), size[0], size[1], self.times, self.fps)


def _relative(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[..., 2] -= ref[..., None]
    return out


def _by_name(comp_points, data, conf, names, width, z_ref="mean"):
    """(T, len(names), 3) NaN-filled array from a component whose points are named."""
    t = len(data)
    out = np.full((t, len(names), 3), np.nan, np.float32)
    vis = np.zeros((t, len(names)), np.float32)
    index = {n: i for i, n in enumerate(names)}
    for k, name in enumerate(comp_points):
        if name in index:
            out[:, index[name]] = data[:, k, :3]
            vis[:, index[name]] = conf[:, k]
    out[vis <= 0] = np.nan
    out[..., 2] *= width
    return out, vis


def _frame_ref(points: np.ndarray, idx) -> np.ndarray:
    with np.errstate(all="ignore"), _quiet():
        ref = np.nanmean(points[:, idx, 2], axis=1)
    return np.where(np.isfinite(ref), ref, 0.0)


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _check_body_size(raw: bytes, path: Path) -> None:
    """Refuse a body shorter (or longer) than its header says. pose-format 0.1 files count
    their frames in 16 bits, so pose-format infers the count from the bytes that remain: a
    cut file is then read with its confidence block starting inside the coordinates (rc 0,
    every point "found", nonsense coordinates). The body is the frame count (uint16 in 0.1,
    uint32 in 0.2) after fps, then people, then T*people*points*dims coordinates and
    T*people*points confidences, all float32."""
    import struct

    from pose_format.pose_header import PoseHeader
    from pose_format.utils.reader import BufferReader

    reader = BufferReader(raw)
    header = PoseHeader.read(reader)
    version = round(float(header.version), 3)
    if version not in (0.1, 0.2):
        return                                  # 0.0 bodies are framed per frame; pose-format checks them
    at = reader.read_offset
    fmt = "<HHH" if version == 0.1 else "<fIH"  # fps, frames, people
    if len(raw) < at + struct.calcsize(fmt):
        raise LandmarkError(f"{path}: truncated: the file ends inside its body's header")
    _, frames, people = struct.unpack_from(fmt, raw, at)
    points = sum(len(c.points) for c in header.components)
    per_frame = people * points * (header.num_dims() + 1) * 4
    left = len(raw) - at - struct.calcsize(fmt)
    if per_frame == 0:
        return
    whole = left // per_frame
    # 0.1 stores the frame count modulo 2**16: a longer file is whole if the count wraps to it
    agrees = left % per_frame == 0 and (whole == frames if version == 0.2 else whole % 65536 == frames)
    if not agrees:
        expected = frames * per_frame
        what = "truncated" if left < expected else "damaged"
        raise LandmarkError(
            f"{path}: {what}: its header says {frames} frames of {people} x {points} points "
            f"({expected} bytes of landmarks), but {left} bytes follow; it would be read misaligned")


def read_pose(path: str | os.PathLike) -> Landmarks:
    """Landmarks from a pose-format file in MediaPipe Holistic layout (first person)."""
    from pose_format import Pose

    path = Path(path)
    if not path.is_file():
        raise LandmarkError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw:
        raise LandmarkError(f"{path}: the file is empty")
    try:
        _check_body_size(raw, path)
        pose = Pose.read(raw)
    except LandmarkError:
        raise
    except Exception as exc:  # pose-format raises struct.error, ValueError, IndexError...
        raise LandmarkError(f"{path}: not a readable pose-format file ({type(exc).__name__}: {exc})") from None
    comps = {c.name: c for c in pose.header.components}
    missing = [c for c in REQUIRED_COMPONENTS if c not in comps]
    if missing:
        raise LandmarkError(
            f"{path}: not a MediaPipe Holistic .pose file: missing component(s) {', '.join(missing)} "
            f"(it has {', '.join(comps) or 'none'})")
    body_pts = list(comps["POSE_LANDMARKS"].points)
    lost = [n for n in REQUIRED_BODY if n not in body_pts]
    if lost:
        raise LandmarkError(f"{path}: POSE_LANDMARKS lacks {', '.join(lost)}, which the arms need")
    for side in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"):
        gone = [n for n in HAND_POINTS if n not in comps[side].points]
        if gone:
            raise LandmarkError(f"{path}: {side} lacks {', '.join(gone[:5])}"
                                f"{' ...' if len(gone) > 5 else ''} (MediaPipe hands have 21 points)")
    for c in pose.header.components:
        if not c.format.upper().startswith("XY"):
            raise LandmarkError(f"{path}: component {c.name} has point format {c.format}, expected XYZC")
    data = np.ma.filled(pose.body.data.astype(np.float32), np.nan)
    conf = np.asarray(pose.body.confidence, np.float32)
    if data.ndim != 4 or len(data) == 0 or data.shape[1] == 0:
        raise LandmarkError(f"{path}: holds no frames")
    data, conf = data[:, 0], conf[:, 0]           # first person
    if np.isinf(data).any() or not np.isfinite(conf).all():   # NaN marks a missing point; inf is damage
        raise LandmarkError(f"{path}: holds infinite coordinates or non-finite confidences")
    if data.shape[-1] == 2:
        data = np.concatenate([data, np.zeros(data.shape[:-1] + (1,), np.float32)], -1)
    width, height = int(pose.header.dimensions.width), int(pose.header.dimensions.height)
    if width <= 0 or height <= 0:
        raise LandmarkError(f"{path}: header dimensions {width}x{height} are not a frame size")
    fps = float(pose.body.fps)
    if not np.isfinite(fps) or fps <= 0:
        raise LandmarkError(f"{path}: frame rate {pose.body.fps} is not usable (pass --fps)")

    def part(name):
        start = sum(len(c.points) for c in pose.header.components[:list(comps).index(name)])
        n = len(comps[name].points)
        return comps[name].points, data[:, start:start + n], conf[:, start:start + n]

    bp, bd, bc = part("POSE_LANDMARKS")
    body, vis = _by_name(bp, bd, bc, BODY_POINTS, width)
    body = _relative(body, _frame_ref(body, [BODY_INDEX["LEFT_SHOULDER"], BODY_INDEX["RIGHT_SHOULDER"]]))
    hands = []
    for name in ("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"):
        hp, hd, hc = part(name)
        h, _ = _by_name(hp, hd, hc, HAND_POINTS, width)
        hands.append(_relative(h, np.where(np.isfinite(h[:, 0, 2]), h[:, 0, 2], 0.0)))
    face = np.full((len(data), NUM_FACE, 3), np.nan, np.float32)
    if "FACE_LANDMARKS" in comps:
        fp, fd, fc = part("FACE_LANDMARKS")
        names = [str(i) for i in range(NUM_FACE)]
        face, _ = _by_name(fp, fd, fc, names, width)
        face = _relative(face, _frame_ref(face, slice(None)))
    world = None
    if "POSE_WORLD_LANDMARKS" in comps:
        wp, wd, wc = part("POSE_WORLD_LANDMARKS")
        w, _ = _by_name(wp, wd, wc, BODY_POINTS, 1.0)
        world = w / np.array([width, height, 1.0], np.float32)   # pose-format scales x, y by the frame
    times = np.arange(len(data)) / fps
    return Landmarks(body, vis, hands[0], hands[1], face, world, width, height, times, fps)


def write_pose(lm: Landmarks, path: str | os.PathLike) -> Path:
    """Write ``lm`` as a full-layout MediaPipe Holistic .pose file (atomically)."""
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    t, w = lm.num_frames, float(lm.width)

    def block(points, conf=None):
        pts = points.astype(np.float32).copy()
        pts[..., 2] /= w
        c = np.isfinite(pts[..., 0]).astype(np.float32) if conf is None else conf.astype(np.float32)
        c = np.where(np.isfinite(pts[..., 0]), c, 0.0)
        return np.nan_to_num(pts), c

    world = lm.world if lm.world is not None else np.full((t, 33, 3), np.nan, np.float32)
    parts = [block(lm.pose, lm.pose_conf), block(lm.face), block(lm.left), block(lm.right),
             block(world * np.array([w, lm.height, w], np.float32), lm.pose_conf)]
    data = np.concatenate([p[0] for p in parts], 1)[:, None]
    conf = np.concatenate([p[1] for p in parts], 1)[:, None]
    header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width=int(lm.width), height=int(lm.height),
                                                                   depth=1000),
                        components=holistic_components("XYZC"))
    mask = np.repeat((conf == 0)[..., None], 3, -1)
    body = NumPyPoseBody(fps=float(lm.fps), data=np.ma.masked_array(data, mask=mask), confidence=conf)
    buf = io.BytesIO()
    Pose(header, body).write(buf)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return path
