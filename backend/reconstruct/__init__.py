"""Video or pose-format ``.pose`` file -> SMPL-X ``Motion``, offline on a CPU.

``reconstruct(path, ReconstructOptions(...))`` -> ``Reconstruction``: landmarks (MediaPipe Holistic over a video's frames, or read
from a ``.pose`` file), quality checks (no body, no hand ever found -> ReconstructError),
the batched SMPL-X fit (``fit.Fitter``), missing hands interpolated up to ten frames and
held beyond (flagged), idle lead-in and tail-out trimmed by hand motion energy, optional
SignAvatar denoising, and per-frame confidence; ``get_fitter`` is the shared fitter of a
body model. Nothing is written here: the caller writes the motion (and, with
``Reconstruction.write_landmarks``, the landmarks) once all succeeded. MediaPipe's left/right are the signer's own and the camera is taken not to
mirror (see ``fit``). torch, smplx, mediapipe, opencv; never bpy.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..callable_module import make_callable
from ..io.pose import LandmarkError, Landmarks, read_pose, write_pose
from ..motion import Motion
from .gaps import MAX_GAP, runs
from .video import VIDEO_SUFFIXES, VideoError, extract_video
from blender_addon.core.errors import SignForgeError

if TYPE_CHECKING:
    from .fit import Fitter

# The fitter and its body model (smplx and torch, about 1.5 s to import) load with the first fit
# (``get_fitter``), not with this package: a refused input or a wrong -o is told in well under
# a second (issue 17). The fit itself is numpy (``kinematics``, ``optim``).


def __getattr__(name: str):
    if name == "Fitter":
        from .fit import Fitter
        return Fitter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["reconstruct", "ReconstructOptions", "Reconstruction", "ReconstructError", "get_fitter", "Fitter",
           "check_input", "load_landmarks", "input_warnings", "held_warnings", "upright_turn", "VIDEO_SUFFIXES"]

POSE_SUFFIX = ".pose"
HAND_CONF = {2: 1.0, 1: 0.6, 0: 0.2}     # found / interpolated / held, per hand and frame
MIN_SECONDS = 0.3                       # shorter input is no sign (a still, a stray frame): refused


class ReconstructError(SignForgeError, ValueError):
    """Input that cannot be reconstructed; the message says why."""


def check_input(path: str | os.PathLike, start: float | None = None, end: float | None = None) -> Path:
    """``path`` as a Path if it can be reconstructed as far as can be told without reading it
    (a file, of a kind read here, and a [start, end] in order), else ReconstructError. Cheap:
    the command line asks it before loading the fitter."""
    path = Path(path)
    if not path.exists():
        raise ReconstructError(f"{path}: no such file")
    if path.is_dir():
        raise ReconstructError(f"{path}: is a folder, not a video or .pose file")
    if start is not None and end is not None and end <= start:
        raise ReconstructError(f"the end ({end} s) must come after the start ({start} s)")
    suffix = path.suffix.lower()
    if suffix != POSE_SUFFIX and suffix not in VIDEO_SUFFIXES:
        raise ReconstructError(f"{path}: unknown kind of file {suffix or '(no extension)'!r}; give a video "
                               f"({', '.join(VIDEO_SUFFIXES)}) or a pose-format .pose file")
    return path


def load_landmarks(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                   progress: Callable[[int, int], None] | None = None, timings: dict | None = None,
                   turn: int = 0) -> Landmarks:
    """Landmarks of a video or a .pose file, limited to [start, end] seconds; ``turn`` degrees
    clockwise turns the frames (a video is tracked again on the turned frames)."""
    path = check_input(path, start, end)
    suffix = path.suffix.lower()
    try:
        if suffix == POSE_SUFFIX:
            lm = read_pose(path)
            keep = np.ones(lm.num_frames, bool)
            if start is not None:
                keep &= lm.times >= start - 1e-6
            if end is not None:
                keep &= lm.times <= end + 1e-6
            if not keep.any():
                raise ReconstructError(f"{path}: no frame in [{start or 0}, {end if end is not None else 'end'}] s "
                                       f"(the file lasts {lm.times[-1]:.2f} s)")
            idx = np.flatnonzero(keep)
            lm = lm.cut(int(idx[0]), int(idx[-1]) + 1)
            lm.times = lm.times - lm.times[0]
            return lm.turned(turn)
        return extract_video(path, start, end, progress=progress, timings=timings, turn=turn)
    except (LandmarkError, VideoError) as exc:
        raise ReconstructError(str(exc)) from None


def _uniform(lm: Landmarks) -> Landmarks:
    """Landmarks on an even time grid at ``lm.fps`` (variable frame rate videos): points are
    interpolated between the two nearest frames; a hand counts as found only when both are."""
    t = lm.times
    if len(t) < 3:
        return lm
    dt = np.diff(t)
    step = 1.0 / lm.fps
    if np.abs(dt - step).max() < 0.25 * step:
        return lm
    grid = np.arange(0.0, t[-1] + 1e-9, step)
    hi = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
    lo = hi - 1
    a = ((grid - t[lo]) / np.maximum(t[hi] - t[lo], 1e-9)).clip(0, 1)

    def lerp(x):
        w = a.reshape((-1,) + (1,) * (x.ndim - 1))
        return ((1 - w) * x[lo] + w * x[hi]).astype(np.float32)

    world = None if lm.world is None else lerp(lm.world)
    return Landmarks(lerp(lm.pose), lerp(lm.pose_conf), lerp(lm.left), lerp(lm.right), lerp(lm.face), world,
                     lm.width, lm.height, grid, lm.fps)


def _check_length(lm: Landmarks, path: Path, ranged: bool) -> None:
    seconds = lm.num_frames / lm.fps
    if seconds < MIN_SECONDS - 1e-9:
        where = "the chosen range of " if ranged else ""
        raise ReconstructError(f"{path}: {where}the clip lasts {seconds:.2f} s ({lm.num_frames} frame"
                               f"{'s' if lm.num_frames != 1 else ''} at {lm.fps:g} fps); a sign needs at least "
                               f"{MIN_SECONDS:g} s")


def _mean_direction(v: np.ndarray) -> np.ndarray | None:
    """The mean direction of the finite (T, 2) vectors, or None where there are none."""
    ok = np.isfinite(v).all(1)
    n = np.linalg.norm(v[ok], axis=1)
    ok_n = n > 1e-6
    if not ok_n.any():
        return None
    m = (v[ok][ok_n] / n[ok_n, None]).mean(0)
    return m / np.linalg.norm(m) if np.linalg.norm(m) > 1e-6 else None


def upright_turn(lm: Landmarks) -> tuple[int | None, float]:
    """(degrees clockwise that turn the frames so the signer is upright, the shoulders' line
    in degrees from horizontal). The head's side of the shoulders (nose, else the face's
    centre, else the ears; else the shoulders' side of the hips) says where up is; a turn is
    asked only when the shoulders agree (near vertical for 90 and 270, level for 180). The
    turn is None when the shoulders stand near vertical but nothing says which way is up."""
    sh = lm.pose[:, 11, :2] - lm.pose[:, 12, :2]
    ok = np.isfinite(sh).all(1)
    if not ok.any():
        return 0, 0.0
    tilt = float(np.degrees(np.median(np.arctan2(np.abs(sh[ok, 1]), np.abs(sh[ok, 0])))))
    mid = lm.pose[:, 11:13, :2].mean(1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN frames: nanmean says so
        face = np.nanmean(lm.face[..., :2], axis=1)
        ears = np.nanmean(lm.pose[:, 7:9, :2], axis=1)
        hips = lm.pose[:, 23:25, :2].mean(1)
    up = None
    for ref in (lm.pose[:, 0, :2] - mid, face - mid, ears - mid, mid - hips):
        up = _mean_direction(ref)
        if up is not None:
            break
    if up is None:
        return (None if tilt > 60 else 0), tilt
    dx, dy = up
    k = int(np.argmax([-dy, -dx, dy, dx]))       # a turn of k * 90 degrees clockwise brings up to the top
    if (k in (1, 3) and tilt > 45) or (k == 2 and tilt < 45):
        return 90 * k, tilt
    return 0, tilt


FAR_OUTSIDE = 10.0    # landmarks this many frame sizes beyond the frame's edge are no tracking: refused


def _check(lm: Landmarks, path: Path) -> None:
    centre, limit = np.array([lm.width / 2, lm.height / 2]), (FAR_OUTSIDE + 0.5) * max(lm.width, lm.height)
    for name, pts in (("body", lm.pose), ("left hand", lm.left), ("right hand", lm.right), ("face", lm.face)):
        xy = pts[..., :2].astype(np.float64)
        off = np.where(np.isfinite(xy), np.abs(xy - centre), 0.0).max(axis=(1, 2))
        if (off > limit).any():
            raise ReconstructError(f"{path}: {name} landmarks lie far outside the {lm.width}x{lm.height} frame "
                                   f"({off.max():.3g} px from its centre in frames {_ranges(off > limit)}): the "
                                   f"file is corrupt or its points are not in pixels; nothing was written")
    sh = lm.pose[:, 11:13, 0]
    if not np.isfinite(sh).all(1).any():
        raise ReconstructError(f"{path}: no person found: MediaPipe never saw the signer's shoulders "
                               f"in {lm.num_frames} frames")
    if not (lm.hand_found("left").any() or lm.hand_found("right").any()):
        raise ReconstructError(f"{path}: no hand is ever found in {lm.num_frames} frames; a sign needs at "
                               f"least one visible hand (check lighting, framing and that the hands are in view)")


def hand_energy(lm: Landmarks) -> np.ndarray:
    """(T,) hand motion energy: speed of both hands' landmarks (wrists from the body when a
    hand is missing), in shoulder widths per second, lightly smoothed."""
    sw = np.linalg.norm(lm.pose[:, 11, :2] - lm.pose[:, 12, :2], axis=-1)
    scale = float(np.nanmedian(sw)) if np.isfinite(sw).any() else float(lm.width) / 4
    tracks = []
    for side, wrist in (("left", 15), ("right", 16)):
        h = (lm.left if side == "left" else lm.right)[..., :2]
        pts = np.where(np.isfinite(h), h, lm.pose[:, wrist:wrist + 1, :2])
        tracks.append(pts)
    pts = np.concatenate(tracks, 1) / max(scale, 1e-6)
    v = np.zeros(len(pts))
    if len(pts) > 1:
        d = np.linalg.norm(np.diff(pts, axis=0), axis=-1)
        d = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=1) if np.isfinite(d).any() else np.zeros(len(d))
        v[1:] = np.nan_to_num(d) * lm.fps
        v[0] = v[1]
    k = np.array([1, 2, 3, 2, 1], float)
    return np.convolve(np.pad(v, 2, mode="edge"), k / k.sum(), mode="valid")


def trim_range(energy: np.ndarray, fps: float, share: float = 0.15, margin_s: float = 0.1,
               min_frames: int = 8) -> tuple[int, int]:
    """[start, end) without idle lead-in and tail-out: frames whose energy stays under
    ``share`` of the clip's 90th percentile at either end go, keeping ``margin_s`` around."""
    t = len(energy)
    if t <= min_frames:
        return 0, t
    level = share * float(np.percentile(energy, 90))
    active = np.flatnonzero(energy > level)
    if level <= 0 or not len(active):
        return 0, t
    margin = int(round(margin_s * fps))
    a, b = max(0, active[0] - margin), min(t, active[-1] + 1 + margin)
    if b - a < min_frames:
        grow = min_frames - (b - a)
        a, b = max(0, a - grow // 2), min(t, b + grow - grow // 2)
    return int(a), int(b)


def _ranges(mask: np.ndarray) -> str:
    return ",".join(f"{a}-{b - 1}" for a, b in runs(mask)) or "none"


_FITTERS: dict[str, Fitter] = {}   # model file (or "mannequin") -> its fitter, for the process's life


def get_fitter(smplx: str | os.PathLike | None = None) -> Fitter:
    """The shared fitter of a body model (``smplx``: a model file or folder; default
    $SIGNFORGE_SMPLX or the mannequin), loaded once and kept for the process's life, so
    batch workers and the command line fit with one loaded body. ``BodyModelError`` (a
    ValueError) for a model file that cannot be used."""
    from ..body.model import Body, resolve_model_file
    from .fit import Fitter

    model_file = resolve_model_file(smplx)
    key = "mannequin" if model_file is None else str(model_file)
    if key not in _FITTERS:
        _FITTERS[key] = Fitter(Body.load(model_file))
    return _FITTERS[key]


@dataclass(frozen=True)
class ReconstructOptions:
    """How to reconstruct, checked once when made (``ReconstructError``, one line, for a bad value).

    ``start``/``end`` (seconds) limit the input; ``denoise`` is None or "signavatar" (True
    means "signavatar", as the Blender add-on sends it; False, "" and "none" mean None);
    ``fps`` resamples the result; ``gloss`` becomes the motion's text; ``smplx`` picks the
    body (default: $SIGNFORGE_SMPLX or the mannequin); ``trim`` cuts idle lead-in and tail-out.
    """
    start: float | None = None
    end: float | None = None
    denoise: str | None = None
    fps: float | None = None
    gloss: str = ""
    smplx: str | os.PathLike | None = None
    trim: bool = True

    def __post_init__(self) -> None:
        denoise = self.denoise
        if denoise is True:
            denoise = "signavatar"
        if denoise in (False, "", "none"):
            denoise = None
        if denoise not in (None, "signavatar"):
            raise ReconstructError(f"unknown denoiser {denoise!r}; the one available is 'signavatar'")
        if self.fps is not None and not (0 < float(self.fps) <= 1000):
            raise ReconstructError(f"fps must be in (0, 1000]; got {self.fps}")
        start = None if self.start in (None, 0, 0.0) else float(self.start)   # type: ignore[arg-type]
        end = None if self.end is None else float(self.end)
        if start is not None and start < 0:
            raise ReconstructError(f"the start ({start} s) must be 0 or later")
        if start is not None and end is not None and end <= start:
            raise ReconstructError(f"the end ({end} s) must come after the start ({start} s)")
        for name, value in (("denoise", denoise), ("start", start), ("end", end), ("gloss", self.gloss or ""),
                            ("fps", None if self.fps is None else float(self.fps))):
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class Reconstruction:
    """What ``reconstruct`` made: the motion, and the figures it is judged by."""
    motion: Motion
    landmarks: Landmarks          # the input's, as read (turned upright when it was not)
    fitted: Landmarks             # the same on the even time grid the fit used
    projected: np.ndarray         # the fitted joints through the fit's camera, in the frames' pixels
    left_hand_found: float        # share of the input's frames where each hand was found
    right_hand_found: float
    reprojection_px: float
    trimmed: tuple[int, int]      # [start, end) of the fitted frames that the motion keeps
    start_s: float                # where the motion's first frame is in the input, in seconds
    video: bool                   # a video (else a .pose file)
    turn: int                     # degrees clockwise the frames were turned to stand the signer upright
    timings: dict[str, float]     # per stage, in seconds

    @property
    def frames_in(self) -> int:
        return self.landmarks.num_frames

    @property
    def width(self) -> int:
        return self.landmarks.width

    @property
    def height(self) -> int:
        return self.landmarks.height

    @property
    def source_fps(self) -> float:
        return float(self.landmarks.fps)

    def write_landmarks(self, path: str | os.PathLike) -> None:
        """The input's landmarks as a pose-format .pose file."""
        write_pose(self.landmarks, path)

    def quality(self, motion: Motion | None = None) -> dict:
        """The figures a reconstruction is judged by, as plain JSON numbers: the share of the
        input's frames where each hand was found, the fit's reprojection error in pixels, the
        take's mean and lowest per-frame confidence (overall and per hand), its frames and the
        trimmed range of the input's frames. ``motion`` (default: this one) may be the take
        mirrored afterwards: the hands are still the signer's in the input."""
        motion = self.motion if motion is None else motion
        a, b = self.trimmed
        out = {"left_hand_found": round(float(self.left_hand_found), 4),
               "right_hand_found": round(float(self.right_hand_found), 4),
               "reprojection_px": round(float(self.reprojection_px), 2),
               "frames": int(motion.num_frames), "frames_in": int(self.frames_in), "trimmed": [int(a), int(b)]}
        if motion.confidence is not None:
            out["confidence_mean"] = round(float(motion.confidence.mean()), 4)
            out["confidence_min"] = round(float(motion.confidence.min()), 4)
        if motion.hand_confidence is not None:
            hands = (motion.hand_confidence[:, ::-1] if motion.provenance.get("mirrored") == "true"
                     else motion.hand_confidence)
            for k, side in enumerate(("left", "right")):
                out[f"{side}_confidence_mean"] = round(float(hands[:, k].mean()), 4)
        return out


def reconstruct(path: str | os.PathLike, options: ReconstructOptions | None = None, *,
                progress: Callable[[int, int], None] | None = None, fitter: Fitter | None = None) -> Reconstruction:
    """SMPL-X motion of the signer in a video or .pose file, with the figures of its fit.

    ``options`` say which part of the input and what to do with it (``ReconstructOptions``);
    ``progress(done, total)`` is called as frames are read and as fitting advances (an
    exception from it stops the work); ``fitter`` is one to fit with (a server's, for the
    body it already holds; default: ``get_fitter(options.smplx)``). Nothing is written.
    Raises ReconstructError (a ValueError).
    """
    path = Path(path)
    opts = options or ReconstructOptions()
    start, end, fps = opts.start, opts.end, opts.fps
    timings: dict = {}
    t0 = time.perf_counter()
    is_video = path.suffix.lower() != POSE_SUFFIX
    # frames are most of the work for a video: they get 80% of the progress, the fit the rest
    def read_progress(done, total):
        if progress is not None:
            progress(int(800 * done / max(total, 1)), 1000)

    lm = load_landmarks(path, start, end, progress=read_progress if is_video else None, timings=timings)
    _check(lm, path)
    _check_length(lm, path, start is not None or end is not None)
    turn, tilt = upright_turn(lm)
    if turn:   # filmed sideways (or upside down) with no rotation metadata: track the turned frames
        lm = load_landmarks(path, start, end, progress=read_progress if is_video else None, timings=timings,
                            turn=turn)
        _check(lm, path)
        again, _ = upright_turn(lm)
        if again != 0:
            raise ReconstructError(f"{path}: the signer is not upright (shoulders' line {tilt:.0f} degrees from "
                                   f"level) and is not upright turned {turn} degrees either; turn the video "
                                   f"so the signer stands upright")
    t1 = time.perf_counter()
    if not is_video:
        timings["landmarks_s"] = t1 - t0
    lm_fit = _uniform(lm)
    base = 800 if is_video else 0

    def fit_progress(done, total):
        if progress is not None:
            progress(base + int((1000 - base) * 0.9 * done / max(total, 1)), 1000)

    if fitter is None:
        try:
            fitter = get_fitter(opts.smplx)
        except ValueError as exc:
            raise ReconstructError(str(exc)) from None
    result = fitter.fit(lm_fit, progress=fit_progress)
    timings.update(result.timings)
    if not (np.isfinite(result.reprojection_px) and np.isfinite(result.poses).all()
            and np.isfinite(result.betas).all()):
        raise ReconstructError(f"{path}: the fit failed: its reprojection error is {result.reprojection_px} px "
                               f"(non-finite numbers in the landmarks or the fit); nothing was written")
    t2 = time.perf_counter()
    T = lm_fit.num_frames
    hand_state = result.hand_state
    conf_hands = np.stack([np.vectorize(HAND_CONF.get)(hand_state[s]) for s in ("left", "right")]).mean(0)
    body_vis = np.nan_to_num(lm_fit.pose_conf[:, 11:17]).mean(1).clip(0, 1)
    confidence = (conf_hands * (0.5 + 0.5 * body_vis)).astype(np.float32).clip(0, 1)
    # each hand's own: found 1, interpolated 0.6, held 0.2, times the same body visibility
    per_hand = np.stack([np.vectorize(HAND_CONF.get)(hand_state[s]) for s in ("left", "right")], 1)
    hand_confidence = (per_hand * (0.5 + 0.5 * body_vis)[:, None]).astype(np.float32).clip(0, 1)
    a, b = (0, T)
    if opts.trim:
        a, b = trim_range(hand_energy(lm_fit), lm_fit.fps)
    share = {s: float(lm.hand_found(s).mean()) for s in ("left", "right")}
    prov = {
        "source": "signforge-reconstruct",
        "input": path.name,
        "body": fitter.body.source if fitter.body.source == "mannequin" else Path(fitter.body.source).name,
        "landmarks": "mediapipe-holistic-0.10.21" if is_video else "pose-format",
        "camera": "unmirrored: MediaPipe LEFT = signer's left = SMPL-X left",
        "left_hand_found": f"{share['left']:.3f}",
        "right_hand_found": f"{share['right']:.3f}",
        "left_hand_held_frames": _ranges(hand_state["left"][a:b] == 0),
        "right_hand_held_frames": _ranges(hand_state["right"][a:b] == 0),
        "max_interpolated_gap": str(MAX_GAP),
        "reprojection_px": f"{result.reprojection_px:.2f}",
        "trimmed": f"{a}-{b - 1} of {T}",
    }
    if turn:
        prov["turned"] = (f"{turn} degrees clockwise: the signer was not upright in the frames (shoulders' line "
                          f"{tilt:.0f} degrees from level) and the file says no rotation")
    elif turn is None:
        prov["not_upright"] = (f"the shoulders' line is {tilt:.0f} degrees from level and nothing shows which "
                               f"way is up: the fit may be sideways")
    motion = Motion(result.poses[a:b], np.zeros((b - a, 3)), np.zeros((b - a, 10)), lm_fit.fps,
                    betas=result.betas, text=opts.gloss, provenance=prov, confidence=confidence[a:b],
                    hand_confidence=hand_confidence[a:b])
    if opts.denoise == "signavatar":
        from .denoise import signavatar_denoise

        motion = signavatar_denoise(motion, opts.gloss)
    t3 = time.perf_counter()
    timings["denoise_s"] = t3 - t2 if opts.denoise else 0.0
    if fps is not None and abs(fps - motion.fps) > 1e-9:
        src_fps = motion.fps
        motion = motion.resample(fps)
        src = np.clip(np.round(np.arange(motion.num_frames) * src_fps / motion.fps).astype(int), 0, b - a - 1)
        prov = dict(motion.provenance)
        for side in ("left", "right"):   # held ranges in the resampled motion's frames
            prov[f"{side}_hand_held_frames"] = _ranges(hand_state[side][a:b][src] == 0)
        motion = motion.with_(provenance=prov)
    if not all(x is None or np.isfinite(x).all() for x in (motion.poses, motion.trans, motion.betas,
                                                           motion.expression, motion.confidence)):
        raise ReconstructError(f"{path}: the fit failed: the motion holds non-finite numbers; nothing was written")
    if progress is not None:
        progress(1000, 1000)
    timings["total_s"] = time.perf_counter() - t0
    return Reconstruction(motion=motion, landmarks=lm, fitted=lm_fit, projected=result.projected,
                          left_hand_found=share["left"], right_hand_found=share["right"],
                          reprojection_px=float(result.reprojection_px), trimmed=(int(a), int(b)),
                          start_s=(start or 0.0) + float(lm_fit.times[a]), video=is_video, turn=int(turn or 0),
                          timings=timings)


def input_warnings(motion: Motion) -> list[str]:
    """A sentence for each thing done to or doubted about the input, from the motion's
    provenance: frames turned upright, or a signer that may not be upright."""
    notes = []
    if "turned" in motion.provenance:
        notes.append(f"the frames were turned {motion.provenance['turned']}")
    if "not_upright" in motion.provenance:
        notes.append(f"the signer may not be upright: {motion.provenance['not_upright']}")
    return notes


def held_warnings(motion: Motion) -> list[str]:
    """A sentence per hand the fit held at a pose because the input lost it for longer than
    the interpolated gap (``MAX_GAP`` frames), with where, in seconds of the take."""
    notes = []
    for side in ("left", "right"):
        held = motion.provenance.get(f"{side}_hand_held_frames", "none")
        if held in ("", "none"):
            continue
        spans = [tuple(int(x) for x in r.split("-")) for r in held.split(",")]
        if sum(e - s + 1 for s, e in spans) >= motion.num_frames:
            notes.append(f"the {side} hand was never found in the take: its pose is held, not tracked")
            continue
        where = ", ".join(f"{s / motion.fps:.2f}-{(e + 1) / motion.fps:.2f} s" for s, e in spans)
        notes.append(f"the {side} hand was lost for more than {MAX_GAP} frames at {where} of the take: "
                     f"it holds its last pose there")
    return notes


make_callable(__name__)   # ``backend.reconstruct(...)`` is this package's ``reconstruct(...)``
