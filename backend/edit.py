"""Editing a take: regenerate only a masked part from a new text, keep the rest bit-exact.

``edit(motion, text, frames=(a, b), joints=[...])`` builds a mask over HandMDM's 274-D frames
(frames in [a, b), the features of the named joints or groups: ``right_hand`` / ``left_hand``
(the 15 finger joints), ``hands``, ``right_arm`` / ``left_arm`` / ``arms`` (collar to wrist, no
fingers), ``torso``, ``face`` (jaw and expression), or any joint the features carry), plans the
text (``backend.plan``) as ``generate`` does, lays the plan's sign onto the take's own sign
window (a piecewise-linear time warp), and lets HandMDM inpaint the masked part from that
plan noised ``strength`` up the schedule, the rest fixed (``backend.inpaint``). A frame range
is then met at both ends (a displacement map: the new frames are shifted by quintics that
take them to the take's position and velocity on each side over ``RAMP`` frames, the model's
own frames right next to the kept ones, where it jumps to meet them, carried on at its pace). Every channel
outside the mask (other joints' axis-angles, root, legs, translation, expression, betas) is the
input's, bit for bit, at the take's own frame rate: frames are the take's own, the model works at
25 fps on a resampled copy, and only the redone channels of the redone frames come back from it
(at those frames' times, then met by the take's own neighbours).
numpy + torch (through the planner and the model); never bpy.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from blender_addon.core.errors import SignForgeError

from .body.skeleton import FEATURE_DIM, FEATURE_JOINTS, JOINT_INDEX, UPPER_BODY_NAMES, hand_joints
from .callable_module import make_callable
from .motion.motion import Motion

FPS = 25.0
RAMP = 8         # 25 fps frames at each end of a redone range over which it is taken to its neighbours
EDGE = 2         # frames of a redone range next to a kept neighbour that the meet redraws (``_unedged``)
STRENGTH = 0.5   # how far up the schedule the plan is noised before HandMDM redraws the masked part
_ARM = ("collar", "shoulder", "elbow", "wrist")
GROUPS: dict[str, tuple[str, ...]] = {
    "right_hand": tuple(n for n in JOINT_INDEX if n.startswith("right_") and JOINT_INDEX[n] in hand_joints("right")),
    "left_hand": tuple(n for n in JOINT_INDEX if n.startswith("left_") and JOINT_INDEX[n] in hand_joints("left")),
    "right_arm": tuple(f"right_{j}" for j in _ARM),
    "left_arm": tuple(f"left_{j}" for j in _ARM),
    "torso": ("spine1", "spine2", "spine3", "neck", "head"),
    "face": ("jaw",),
}
GROUPS["hands"] = GROUPS["left_hand"] + GROUPS["right_hand"]
GROUPS["arms"] = GROUPS["left_arm"] + GROUPS["right_arm"]
_SLOT = {j: k for k, j in enumerate(FEATURE_JOINTS)}   # joint index -> its 6 features' place
EXPRESSION = slice(6 * len(FEATURE_JOINTS), FEATURE_DIM)


class EditError(SignForgeError, ValueError):
    """An edit that cannot be made as asked; the message says why."""


def joint_names(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Joint names from groups and names ("right_hand", "arms,jaw", ["left_wrist"]); each must be a
    group of ``GROUPS`` or a joint HandMDM's features carry."""
    parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
    if not parts:
        raise EditError("name at least one joint or group")
    out: list[str] = []
    for p in parts:
        if p in GROUPS:
            out += [n for n in GROUPS[p] if n not in out]
        elif p in JOINT_INDEX and JOINT_INDEX[p] in _SLOT:
            out += [p] if p not in out else []
        else:
            raise EditError(f"unknown joint or group {p!r}; groups: {', '.join(sorted(GROUPS))}, or a joint such as "
                            f"{UPPER_BODY_NAMES[-1]} or right_index1")
    return tuple(out)


def mask(frames: int, span: tuple[int, int] | None = None, joints: tuple[str, ...] | None = None) -> np.ndarray:
    """(frames, 274) bool: True where the edit regenerates."""
    rows = np.zeros(frames, bool)
    a, b = span if span is not None else (0, frames)
    rows[a:b] = True
    cols = np.zeros(FEATURE_DIM, bool)
    if joints is None:
        cols[:] = True
    else:
        for name in joints:
            k = _SLOT[JOINT_INDEX[name]]
            cols[6 * k:6 * k + 6] = True
        if "jaw" in joints:
            cols[EXPRESSION] = True
    return rows[:, None] & cols[None, :]


def check_span(span, frames: int) -> tuple[int, int]:
    """(a, b) frames [a, b) inside a take of ``frames``: at least 2 of them, and (when inside the
    take) a frame kept on some side."""
    try:
        a, b = (int(v) for v in span)
    except (TypeError, ValueError):
        raise EditError(f"frames are two whole numbers A:B; got {span!r}") from None
    if not 0 <= a < b <= frames:
        raise EditError(f"frames {a}:{b} are not inside the take's 0:{frames}")
    if b - a < 2:
        raise EditError(f"frames {a}:{b}: regenerate at least 2 frames")
    return a, b


def parse_frames(text: str) -> tuple[int, int]:
    """"A:B" -> (A, B)."""
    a, sep, b = str(text).partition(":")
    if not sep:
        raise EditError(f"--frames is A:B (first frame, one past the last); got {text!r}")
    try:
        return int(a), int(b)
    except ValueError:
        raise EditError(f"--frames is A:B with whole numbers; got {text!r}") from None


def windows(frames: int, region: tuple[int, int], longest: int, context: int = 12,
            overlap: int = 24) -> list[tuple[int, int]]:
    """Frame windows [start, end) of at most ``longest`` frames that cover ``region`` and
    ``context`` frames either side of it (within the take), each overlapping the last by
    ``overlap`` frames."""
    lo, hi = max(0, region[0] - context), min(frames, region[1] + context)
    if hi - lo <= longest:
        return [(lo, hi)]
    out, s = [], lo
    while True:
        e = min(hi, s + longest)
        out.append((s, e))
        if e == hi:
            return out
        s = e - overlap


def _warp(source: np.ndarray, src: tuple[int, int], dst: tuple[int, int], frames: int) -> np.ndarray:
    """``source`` (P, F) resampled to ``frames`` rows so its rows ``src`` [start, end) land on
    ``dst``: piecewise linear in time, approach and return stretched alongside."""
    p = len(source)
    knots_dst = [0.0, float(dst[0]), float(max(dst[1] - 1, dst[0])), float(frames - 1)]
    knots_src = [0.0, float(src[0]), float(max(src[1] - 1, src[0])), float(p - 1)]
    t = np.interp(np.arange(frames), knots_dst, knots_src)
    i0 = np.floor(t).astype(int).clip(0, p - 1)
    i1 = (i0 + 1).clip(0, p - 1)
    u = (t - i0)[:, None]
    return (1 - u) * source[i0] + u * source[i1]


def _at_rate(span: tuple[int, int], fps: float, frames: int) -> tuple[int, int]:
    """The 25 fps frames [a, b) (of ``frames``) that hold the times of a take's frames ``span`` at
    ``fps``: every frame of the span lies between two of them (or at one)."""
    a = int(math.floor(span[0] * FPS / fps + 1e-9))
    b = int(math.ceil((span[1] - 1) * FPS / fps - 1e-9)) + 1
    a, b = max(0, min(a, frames - 1)), min(frames, b)
    if b - a < 2:   # the model redoes at least 2 frames
        a, b = (a, a + 2) if a + 2 <= frames else (frames - 2, frames)
    return a, b


def _lerp(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rows of ``values`` at fractional row indices ``at`` (clamped), linear in between (6-D
    rotations are orthonormalised when they become poses)."""
    t = np.clip(at, 0, len(values) - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    u = (t - i0)[:, None]
    return (1 - u) * values[i0] + u * values[i1]


def _meet(made: np.ndarray, before: np.ndarray | None, after: np.ndarray | None,
          ramp: int | None = None) -> np.ndarray:
    """``made`` (L, F) shifted by a quintic so that it continues ``before`` (its last two rows:
    position and velocity) and leads into ``after`` (its first two) without a jump (a
    displacement map, Witkin & Popovic 1995); a missing side is left as it is. With ``ramp``,
    each side's shift fades out over that many frames from its end (the middle is the model's
    as drawn), else it spans the whole of ``made``."""
    n = len(made)
    zero = np.zeros(made.shape[1])
    if before is not None and len(before) >= 2:
        want0, vel0 = 2 * before[-1] - before[-2], before[-1] - before[-2]   # where the next frame would be
        off0, dv0 = want0 - made[0], vel0 - (made[1] - made[0] if n > 1 else zero)
    else:
        off0, dv0 = zero, zero
    if after is not None and len(after) >= 2:
        want1, vel1 = 2 * after[0] - after[1], after[1] - after[0]
        off1, dv1 = want1 - made[-1], vel1 - (made[-1] - made[-2] if n > 1 else zero)
    else:
        off1, dv1 = zero, zero
    if ramp is not None and n >= 2 * ramp + 2:
        u = np.clip(np.arange(n) / ramp, 0, 1)[:, None]                  # 0 .. 1 over the first ramp
        w = np.clip((np.arange(n) - (n - 1 - ramp)) / ramp, 0, 1)[:, None]   # 0 .. 1 over the last
        return made + _fade(u, off0, dv0, ramp) + _rise(w, off1, dv1, ramp)
    u = (np.arange(n) / max(n - 1, 1))[:, None]
    span = max(n - 1, 1)
    return made + _fade(u, off0, dv0, span) + _rise(u, off1, dv1, span)


def _fade(u: np.ndarray, off: np.ndarray, dv: np.ndarray, span: int) -> np.ndarray:
    """The quintic from ``off`` (slope ``dv`` per frame) at u = 0 to rest at u = 1."""
    u3, u4, u5 = u ** 3, u ** 4, u ** 5
    return (1 - 10 * u3 + 15 * u4 - 6 * u5) * off + (u - 6 * u3 + 8 * u4 - 3 * u5) * span * dv


def _rise(u: np.ndarray, off: np.ndarray, dv: np.ndarray, span: int) -> np.ndarray:
    """The quintic from rest at u = 0 to ``off`` (slope ``dv`` per frame) at u = 1."""
    u3, u4, u5 = u ** 3, u ** 4, u ** 5
    return (10 * u3 - 15 * u4 + 6 * u5) * off + (-4 * u3 + 7 * u4 - 3 * u5) * span * dv


def _unedged(made: np.ndarray, start: bool, end: bool) -> np.ndarray:
    """``made`` with its ``EDGE`` frames next to a kept neighbour (``start``, ``end``) carried on
    at the pace of the frames inside them. Next to the frames it must keep, the model jumps to
    meet them in a frame or two (a chin-tap take redone as a chest tap went 1.0 m/s then 0.18
    m/s in its last frames); ``_meet`` then takes the region to its neighbours over ``RAMP``
    frames at each end, the middle kept as the model drew it."""
    made = made.copy()
    n = len(made)
    if n < 2 * EDGE + 3:
        return made
    if end:
        step = made[-EDGE - 1] - made[-EDGE - 2]
        made[-EDGE:] = made[-EDGE - 1] + step * np.arange(1, EDGE + 1)[:, None]
    if start:
        step = made[EDGE] - made[EDGE + 1]
        made[:EDGE] = made[EDGE] + step * np.arange(EDGE, 0, -1)[:, None]
    return made


def edit(motion: Motion, text: str, *, frames: tuple[int, int] | None = None,
         joints: str | list[str] | tuple[str, ...] | None = None, seed: int = 0, strength: float = STRENGTH,
         hand: str | None = None, guidance: float = 2.5, steps: int = 50,
         run_dir: str | os.PathLike | None = None, body=None,
         progress: Callable[[int, int], None] | None = None) -> Motion:
    """``motion`` with the part the mask names regenerated for ``text`` (see the module's
    docstring); everything else is the input's, bit for bit. A part longer than the model's
    longest take (4 s for the shipped HandMDM) is made in overlapping windows, each going on
    from the frames the last one made."""
    from .generate import GenerateError, _plans, handmdm_run
    from .inpaint import inpaint
    from .body.features import features_to_pose

    if not isinstance(motion, Motion):
        raise EditError(f"edit takes a Motion; got {type(motion).__name__}")
    if not isinstance(text, str) or not text.strip():
        raise EditError("the text of the edit is empty")
    if frames is None and joints is None:
        raise EditError("give the part to redo: frames A:B, joints, or both")
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0 < strength <= 1):
        raise EditError(f"strength must be over 0 and at most 1; got {strength!r}")
    source = motion   # the take as given, at its own rate: what the result keeps bit for bit
    span = check_span(frames, source.num_frames) if frames is not None else None
    if motion.fps != FPS:   # the model works at 25 fps; the result comes back at the take's rate
        motion = motion.resample(FPS)
    n = motion.num_frames
    span25 = None if span is None else _at_rate(span, source.fps, n)
    names = joint_names(joints) if joints is not None else None
    try:
        run = handmdm_run(run_dir)
        if body is None:
            from .body.model import Body

            body = Body.load()
        from .sentence import kept_span

        redo = mask(n, span25, names)
        feats = motion.to_features().astype(np.float64)
        region = span25 or (0, n)
        plan = _plans(text, hand, seed, 1, None, run.model.cfg.longest)
        start = feats.copy()
        if plan:
            pm = plan[0].motion
            pf = pm.to_features().astype(np.float64)
            src = kept_span(pm, body)
            if span25 is None:   # the plan's sign onto this take's own sign
                laid = _warp(pf, src, kept_span(motion, body), n)
            else:              # the plan's sign into the frames asked for
                laid = np.zeros_like(feats)
                laid[region[0]:region[1]] = _warp(pf[src[0]:src[1]], (0, src[1] - src[0]),
                                                  (0, region[1] - region[0]), region[1] - region[0])
            start = np.where(redo, laid, feats)
        made = start.copy()
        done = np.zeros_like(redo)
        wins = windows(n, region, run.model.cfg.longest)
        for k, (s0, s1) in enumerate(wins):   # a long take in overlapping windows, each going on from the last
            step = None if progress is None else \
                (lambda i, m, k=k: progress(k * m + i, len(wins) * m))
            made[s0:s1] = inpaint(made[s0:s1], ~redo[s0:s1] | done[s0:s1], text, strength=strength,
                                  seed=seed + k, guidance=guidance, steps=steps, run_dir=run_dir, progress=step)
            done[s0:s1] = redo[s0:s1]
    except GenerateError as exc:
        raise EditError(str(exc)) from None
    # back at the take's own rate: the redone channels at its frames' times, met at both ends by
    # the take's own neighbours (so no jump at any rate); every other value is the take's
    a, b = span or (0, source.num_frames)
    cols = redo[region[0]]
    theirs = source.to_features().astype(np.float64)
    new = theirs.copy()
    new[a:b] = _lerp(made, np.arange(a, b) * FPS / source.fps)
    if span is not None:
        before = theirs[max(0, a - 2):a] if a >= 2 else None
        after = theirs[b:b + 2] if source.num_frames - b >= 2 else None
        ramp = min(int(round(RAMP * source.fps / FPS)), (b - a - 2) // 2)
        if ramp > EDGE:
            met = _meet(_unedged(new[a:b], before is not None, after is not None), before, after, ramp=ramp)
        else:   # too short a range to ramp: the model's own edges, met over the whole of it
            met = _meet(new[a:b], before, after)
        new[a:b, cols] = met[:, cols]
    poses, expression = features_to_pose(new)
    out_poses = np.array(source.poses, copy=True)
    out_expr = np.array(source.expression, copy=True)
    rows = np.arange(a, b)
    touched = [j for j in FEATURE_JOINTS if cols[6 * _SLOT[j]]]
    out_poses[np.ix_(rows, touched)] = poses[np.ix_(rows, touched)]
    if cols[EXPRESSION].any():
        out_expr[a:b] = expression[a:b]
    prov = {**source.provenance, "edited": f"{a}:{b}" + (f" {','.join(joints) if isinstance(joints, (list, tuple)) else joints}"
                                                           if joints is not None else ""),
            "edit_text": text, "edit_seed": str(seed), "edit_strength": f"{strength:g}"}
    if plan:
        prov["edit_plan"] = plan[0].motion.provenance.get("plan", "")
    return source.with_(poses=out_poses, expression=out_expr, provenance=prov)


make_callable(__name__)   # ``backend.edit(...)`` is this module's ``edit(...)``
