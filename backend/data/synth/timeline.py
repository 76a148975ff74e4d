"""The timeline of a sign: how many frames each phase takes (``Timing``: rest, approach,
settle, sign, return, rest), the hands' handshapes over the sign (a held shape, a change
from one to another, a wiggle), the arms' legs from rest into the sign and back, and the
whole as per-frame SMPL-X poses. numpy; never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...body import rotations as R
from ...body.skeleton import JOINT_INDEX as J
from ...body.skeleton import hand_joints
from .. import handshapes as H
from .batch import SolveOnce
from .maths import ease, min_jerk, mv, smooth_quaternions
from .phonology import Handshapes
from .signer_body import SignerBody
from .tables import FPS, FRONT, MAX_SECONDS

SETTLE = 5      # frames at the start of the sign for the hand to settle onto its target
TRAVEL_S = 0.44                 # seconds from rest to the sign (or back) when nothing else says
TRAVEL_RANGE = (0.32, 1.0)      # seconds: the quickest and slowest approach or return
PEAK_REACH_SPEED = 1.8          # m/s: a straight reach's peak; the arm bows forward on a longer path,
                                # so hands peak at ~2.7 m/s (median; 0.1% of frames over 4 m/s)
MIN_JERK_PEAK = 1.875           # a minimum-jerk reach peaks at 1.875x its mean speed


def travel_frames(tempo: float, reach: float = 0.0, clip_ms: float = float("nan")) -> int:
    """Frames of the approach from rest to the sign (or of the return) at a signer's tempo.

    The dictionary clip's own time for it (``clip_ms``, minus the moment at rest a clip
    starts with) when coded, else ``TRAVEL_S``; never so short that a minimum-jerk reach of
    ``reach`` metres peaks over ``PEAK_REACH_SPEED``. Scaled by the signer's tempo.
    """
    clip_s = clip_ms / 1000.0 - 0.1 if np.isfinite(clip_ms) else TRAVEL_S
    by_reach = MIN_JERK_PEAK * reach / PEAK_REACH_SPEED
    return int(round(np.clip(max(clip_s, by_reach) * tempo, *TRAVEL_RANGE) * FPS))


@dataclass(frozen=True)
class Timing:
    """Frames of each phase: ``lead`` at rest, ``approach``, ``settle`` onto the target,
    ``sign`` (the lexicon's duration at the signer's tempo), ``ret`` to rest, ``tail``."""
    lead: int
    approach: int
    settle: int
    sign: int
    ret: int
    tail: int

    @classmethod
    def plan(cls, tempo: float, entry, rng, reach: float = 0.0) -> "Timing":
        """``entry``'s sign at ``tempo`` (> 1 is slower), fitted into MAX_SECONDS: the sign
        lasts its coded duration, the approach and return take the dictionary clip's own
        times (see ``travel_frames``) for a hand that travels ``reach`` metres from rest."""
        lead, tail = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        approach = travel_frames(tempo, reach, entry.approach_ms)
        settle = SETTLE
        ret = travel_frames(tempo, reach, entry.return_ms)
        duration_ms = entry.duration_ms
        budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        if budget < 10:   # a slow signer: shorter approach and return, never a longer motion
            approach, ret = approach - (10 - budget) // 2 - 1, ret - (10 - budget) // 2 - 1
            budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        sign = int(np.clip(round(duration_ms / 1000.0 * tempo * FPS), 10, budget))
        return cls(lead, approach, settle, sign, ret, tail)

    @property
    def k(self) -> int:
        """The solved frames: settle + sign."""
        return self.settle + self.sign

    @property
    def first(self) -> int:
        """The sign's first frame (after the settle)."""
        return self.lead + self.approach + self.settle

    @property
    def frames(self) -> int:
        return self.lead + self.approach + self.k + self.ret + self.tail


def hand_track(hs: Handshapes, blend: np.ndarray, side: str) -> np.ndarray:
    """(k, 15, 3) finger poses blending from the first handshape into the second over ``blend`` (0..1)."""
    if not hs.changes:          # most signs hold one handshape
        return np.repeat(H.hand_pose(hs.shape, side, hs.spread)[None], len(blend), 0)
    a = R.np_axis_angle_to_quaternion(H.hand_pose(hs.shape, side, hs.spread))
    b = R.np_axis_angle_to_quaternion(H.hand_pose(hs.shape2, side, hs.spread2))
    return R.np_quaternion_to_axis_angle(R.np_quaternion_slerp_path(a, b, blend))


def wiggle(track: np.ndarray, k: int, side: str) -> np.ndarray:
    """Movement "Other": the long fingers flutter (two eased cycles)."""
    out = track.copy()
    phase = np.sin(np.linspace(0, 4 * np.pi, k)) * np.sin(np.linspace(0, np.pi, k)) ** 2 * 0.35
    flex = -1.0 if side == "left" else 1.0   # flexion is -z on the left hand, +z on the right
    for f in range(4):   # index, middle, pinky, ring knuckles, neighbours in opposite phase
        out[:, 3 * f, 2] += flex * phase * (1 if f % 2 == 0 else -1)
    return out


# How far (m) the hand bows forward on its way in and out, at the middle of the way: BOW,
# and BOW_ACROSS of the distance it crosses sideways in front of the body, plus the lift.
BOW, BOW_ACROSS = 0.04, 0.25


def arm_tracks(figure: SignerBody, arms: dict, paths: dict, solved: list, approach: int, ret: int):
    """Local shoulder/elbow/wrist quaternions (approach + sign + return, 3, 4) per side.

    ``arms``, ``paths``: each side's ``Arm`` and ``HandPath``; ``solved``: the sign frames'
    solves in ``paths``' order, kept as they are. On the way in (and out) the contact
    point travels from where it hangs at rest, bowing forward so the hand never cuts
    through the body; the arm follows it with the sign's elbow swing, the wrist turns in
    its own frame from rest to the sign's first pose, and the whole arm eases into the
    rest pose at one end and into the sign's first (last) pose at the other. A generator:
    the solves are requests (see ``batch``). The legs (in and out, each side) are
    computed together, a row per frame.
    """
    r_glob, r_pos, _ = figure.rest_frame
    sides = list(paths)
    s_in, s_out = min_jerk(np.arange(1, approach + 1) / approach), min_jerk(np.arange(1, ret + 1) / ret)
    s = np.concatenate([s_in, s_out] * len(sides))
    w_sign = np.concatenate([s_in, 1 - s_out] * len(sides))          # 1 at the sign's end of a leg
    rows = [approach, ret] * len(sides)
    legs = []   # per leg: start, end, lift, rest-end quaternions, sign-end quaternions, wished hand
    cores, rests = {}, {}
    for side, (sh, el, wrs, _) in zip(sides, solved):
        pts, rot, offsets, lift = paths[side]
        wr = J[f"{side}_wrist"]
        cores[side] = R.np_matrix_to_quaternion(np.stack([sh, el, wrs], 1))            # (k, 3, 4)
        arm_joints = [J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist")]
        rests[side] = R.np_axis_angle_to_quaternion(figure.rest[arm_joints])
        rest_pt = r_pos[wr] + r_glob[wr] @ offsets[0]
        legs += [(rest_pt, pts[0], lift, rests[side], cores[side][0], rot[0], r_glob[wr], offsets[0]),
                 (pts[-1], rest_pt, lift, rests[side], cores[side][-1], rot[-1], r_glob[wr], offsets[0])]
    per_row = lambda i: np.repeat(np.stack([leg[i] for leg in legs]), rows, axis=0)  # noqa: E731
    a, b, lift = per_row(0), per_row(1), per_row(2)
    # bow forward, the more so the further the hand crosses in front of the body
    bow = FRONT * (BOW + BOW_ACROSS * np.abs(a[:, :1] - b[:, :1])) + lift
    path = a + (b - a) * s[:, None] + bow * np.sin(np.pi * s)[:, None]
    q_hand = R.np_matrix_to_quaternion(np.stack([per_row(6), per_row(5)], 1))       # rest, sign
    rots = R.np_quaternion_to_matrix(R.np_quaternion_slerp(q_hand[:, 0], q_hand[:, 1], w_sign[:, None]))
    off = per_row(7)
    goal = path - mv(rots, off)
    cuts = np.cumsum([approach + ret] * len(sides))[:-1]
    guided = yield [SolveOnce(arms[side], g, r, o, arms[side].swing)
                    for side, g, r, o in zip(sides, np.split(goal, cuts), np.split(rots, cuts),
                                             np.split(off, cuts))]
    a_sh = np.concatenate([g[0] for g in guided])
    a_el = np.concatenate([g[1] for g in guided])
    guide = R.np_matrix_to_quaternion(np.stack([a_sh, a_el, a_el], 1))
    rest_q, sign_q = per_row(3), per_row(4)
    guide[:, 2] = rest_q[:, 2]
    near_rest = ease(w_sign / 0.75)
    mid = R.np_quaternion_slerp(rest_q, guide, near_rest[:, None, None])
    mid[:, 2] = R.np_quaternion_slerp(rest_q[:, 2], sign_q[:, 2], w_sign[:, None])
    travel = np.split(R.np_quaternion_slerp(mid, sign_q, (w_sign ** 2)[:, None, None]), np.cumsum(rows)[:-1])
    tracks = {}
    for i, side in enumerate(sides):
        q_rest = rests[side]
        q_in = smooth_quaternions(np.concatenate([q_rest[None], travel[2 * i]]))[1:]
        q_out = smooth_quaternions(np.concatenate([travel[2 * i + 1], q_rest[None]]))[:-1]
        tracks[side] = np.concatenate([q_in, cores[side], q_out])
    return tracks


def poses(rest: np.ndarray, arms: dict, hands: dict, timing: Timing) -> np.ndarray:
    """Rest -> approach -> the solved frames -> return -> rest, as (T, 55, 3) axis-angles.

    ``arms``: each side's ``arm_tracks``; ``hands``: each side's finger poses over the
    sign frames (k, 15, 3), which turn from the rest pose's lax hand on the way in and
    back on the way out. Only the joints that move are converted; the others keep the
    rest pose's numbers."""
    lead, approach, ret = timing.lead, timing.approach, timing.ret
    n = timing.frames
    span = slice(lead, lead + approach + timing.k + ret)
    joints, tracks = [], []
    for side, track in arms.items():
        joints += [J[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
        tracks.append(track)
    w_in = min_jerk(np.arange(1, approach + 1) / approach)
    w_out = min_jerk(np.arange(1, ret + 1) / ret)
    for side, fingers in hands.items():
        hand = list(hand_joints(side))
        lax = R.np_axis_angle_to_quaternion(rest[hand])
        core = R.np_axis_angle_to_quaternion(fingers)
        if np.array_equal(core[0], core[-1]):    # one handshape: the way out is the way in reversed
            legs = R.np_quaternion_slerp_path(lax, core[0], np.concatenate([w_in, 1 - w_out]))
            fin_in, fin_out = legs[:approach], legs[approach:]
        else:
            fin_in = R.np_quaternion_slerp_path(lax, core[0], w_in)
            fin_out = R.np_quaternion_slerp_path(core[-1], lax, w_out)
        joints += hand
        tracks.append(np.concatenate([fin_in, core, fin_out]))
    poses = np.repeat(rest[None], n, 0)
    if joints:
        poses[span, joints] = R.np_quaternion_to_axis_angle(np.concatenate(tracks, 1))
    return poses
