"""MediaPipe-layout landmarks from a known SMPL-X motion, to measure the fitter against truth.

Forward kinematics (with exact skinning for fingertips and head sites, ``Rig``) gives the
points MediaPipe Holistic would report: body and world landmarks, 21 points per hand,
the few face points the jaw reads. Gaussian noise (metres) is added in 3D, then a front
camera (weak perspective) projects them; hand frames can be dropped in random runs, as
Holistic loses hands, or one hand made a barely seen, flickering one (``flicker_hand``);
``wrist_turns`` finds a fit's hand spins. numpy; never bpy.
"""
from __future__ import annotations

import numpy as np

from ..body.rig import Rig
from ..body.skeleton import JOINT_INDEX as J
from ..io.pose import BODY_INDEX, NUM_FACE, Landmarks

_BODY = {"LEFT_SHOULDER": "left_shoulder", "RIGHT_SHOULDER": "right_shoulder", "LEFT_ELBOW": "left_elbow",
         "RIGHT_ELBOW": "right_elbow", "LEFT_WRIST": "left_wrist", "RIGHT_WRIST": "right_wrist",
         "LEFT_HIP": "left_hip", "RIGHT_HIP": "right_hip"}
_SITES = {"NOSE": "nose", "LEFT_EAR": "left_ear", "RIGHT_EAR": "right_ear", "LEFT_EYE": "left_eye",
          "RIGHT_EYE": "right_eye"}
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def truth_points(body, motion):
    """(T, 55, 3) joints, (T, S, 3) sites and the rig, for ``motion`` on ``body``."""
    rig = Rig.from_body(body, motion.betas)
    glob, pos = rig.fk(motion.poses.astype(np.float64))
    sites = rig.sites(glob, pos)
    trans = motion.trans.astype(np.float64)[:, None]
    return pos + trans, sites + trans, rig


def hand_points(pos, sites, rig, side):
    """(T, 21, 3) MediaPipe-order hand points: wrist, then per finger joints 1-3 and the tip."""
    cols = [pos[:, J[f"{side}_wrist"]]]
    for f in _FINGERS:
        cols += [pos[:, J[f"{side}_{f}{k}"]] for k in (1, 2, 3)]
        cols.append(sites[:, rig.site(f"{side}_{f}_tip")])
    return np.stack(cols, 1)


def depth_error(rng: np.random.Generator, frames: int, points: int, scale: float) -> np.ndarray:
    """(frames, points) errors of a monocular depth guess, metres: per point a bias held over
    the clip (standard deviation ``scale``), a slow drift (AR(1), 0.95 a frame, half of it)
    and frame-to-frame jitter (a quarter). MediaPipe's depth errs this way: the image fixes x
    and y to a few pixels, while the depth of a hand near the face is wrong by 10-20 cm for
    whole signs (issue 17) and wobbles by 1-2 cm between frames."""
    bias = rng.normal(0.0, scale, points)
    drift = np.zeros((frames, points))
    drift[0] = rng.normal(0.0, scale / 2, points)
    kick = rng.normal(0.0, scale / 2 * np.sqrt(1 - 0.95 ** 2), (frames, points))
    for t in range(1, frames):
        drift[t] = 0.95 * drift[t - 1] + kick[t]
    return bias + drift + rng.normal(0.0, scale / 4, (frames, points))


def landmarks_from_motion(body, motion, noise: float = 0.005, drop: float = 0.2, max_run: int = 6,
                          rng: np.random.Generator | None = None, width: int = 540, height: int = 720,
                          px_per_m: float = 700.0, depth_noise: float = 0.0) -> tuple[Landmarks, dict]:
    """Landmarks as MediaPipe would give them for ``motion``, and the dropped-hand masks.
    ``depth_noise`` (metres) adds ``depth_error`` of that scale to the depth of the elbows,
    wrists and hands (a third of it to the shoulders, hips and head, which MediaPipe places
    better), and a tenth of it as jitter to each hand point's depth relative to its wrist."""
    rng = rng or np.random.default_rng(0)
    pos, sites, rig = truth_points(body, motion)
    T = len(pos)
    noisy = lambda a: a + rng.normal(0.0, noise, a.shape)  # noqa: E731
    body3 = np.full((T, 33, 3), np.nan)
    for mp_name, j in _BODY.items():
        body3[:, BODY_INDEX[mp_name]] = pos[:, J[j]]
    for mp_name, s in _SITES.items():
        body3[:, BODY_INDEX[mp_name]] = sites[:, rig.site(s)]
    body3 = noisy(body3)
    hands3 = {s: noisy(hand_points(pos, sites, rig, s)) for s in ("left", "right")}
    if depth_noise > 0:
        # each hand rides on its wrist's depth error: the image cannot tell a hand near the
        # face from one a hand's length in front of it
        arm = {n: BODY_INDEX[n] for n in ("LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST")}
        err = depth_error(rng, T, 33, depth_noise / 3)
        err[:, list(arm.values())] = depth_error(rng, T, len(arm), depth_noise)
        body3[..., 2] += err
        for s in ("left", "right"):
            wrist_err = err[:, BODY_INDEX[f"{s.upper()}_WRIST"], None]
            hands3[s][..., 2] += wrist_err + rng.normal(0.0, depth_noise / 10, hands3[s].shape[:2])
    face3 = np.full((T, NUM_FACE, 3), np.nan)
    face3[:, 13] = sites[:, rig.site("lip_upper")]
    face3[:, 14] = sites[:, rig.site("lip_lower")]
    face3[:, 33] = sites[:, rig.site("right_eye")]
    face3[:, 263] = sites[:, rig.site("left_eye")]
    centre = np.array([width / 2, height * 0.55])
    anchor = np.nanmean(body3[:, [BODY_INDEX["LEFT_SHOULDER"], BODY_INDEX["RIGHT_SHOULDER"]]], axis=(0, 1))

    def project(p):   # SMPL-X metres -> pixels (x right, y down, z away, in px)
        q = (p - anchor) * px_per_m
        return np.stack([centre[0] + q[..., 0], centre[1] - q[..., 1], -q[..., 2]], -1).astype(np.float32)

    pose = project(body3)
    pose[..., 2] -= pose[:, [11, 12], 2].mean(1)[:, None]
    conf = np.isfinite(pose[..., 0]).astype(np.float32)
    hips = body3[:, [BODY_INDEX["LEFT_HIP"], BODY_INDEX["RIGHT_HIP"]]].mean(1, keepdims=True)
    world = ((body3 - hips) * np.array([1.0, -1.0, -1.0])).astype(np.float32)
    dropped = {}
    hands = {}
    for side in ("left", "right"):
        h = project(hands3[side])
        h[..., 2] -= h[:, :1, 2]
        mask = np.zeros(T, bool)
        target = int(round(drop * T))
        while mask.sum() < target:
            a = int(rng.integers(0, T))
            mask[a:a + int(rng.integers(1, max_run + 1))] = True
        h[mask] = np.nan
        hands[side], dropped[side] = h, mask
    face = project(face3)
    face[..., 2] = 0.0
    lm = Landmarks(pose, conf, hands["left"], hands["right"], face, world, width, height,
                   np.arange(T) / motion.fps, float(motion.fps))
    return lm, dropped


def finger_angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angles (radians) between the 30 finger rotations of two (T, 55, 3) pose arrays."""
    from ..body import rotations as R

    idx = list(range(25, 55))
    ra = R.np_axis_angle_to_matrix(np.asarray(a, float)[:, idx])
    rb = R.np_axis_angle_to_matrix(np.asarray(b, float)[:, idx])
    tr = np.einsum("tjik,tjik->tj", ra, rb)
    return np.arccos(np.clip((tr - 1) / 2, -1.0, 1.0))


def wrist_error(body, truth, fitted) -> np.ndarray:
    """(T, 2) distances (metres) of both wrists relative to the shoulder centre, each on its own body."""
    out = []
    for m in (truth, fitted):
        pos, _, _ = truth_points(body, m.with_(trans=np.zeros_like(m.trans)))
        c = pos[:, [J["left_shoulder"], J["right_shoulder"]]].mean(1, keepdims=True)
        out.append(pos[:, [J["left_wrist"], J["right_wrist"]]] - c)
    return np.linalg.norm(out[0] - out[1], axis=-1)


def synthetic_signs(body, lexicon, count: int, seed: int, noise: float = 0.005, drop: float = 0.2,
                    depth_noise: float = 0.0, keep=None):
    """``count`` factory signs of random lexicon entries (each signed by signer ``i``, its
    entry index), as (entry, true motion, landmarks, dropped hand frames): the fitter's test
    and benchmark input. Entries the synthesizer refuses, or ``keep(entry)`` rejects, are
    passed over; ``depth_noise`` as ``landmarks_from_motion``'s."""
    for entry, motion, _, lm, dropped in signs_with_truth(body, lexicon, count, seed, noise, drop, depth_noise, keep):
        yield entry, motion, lm, dropped


def signs_with_truth(body, lexicon, count: int, seed: int, noise: float = 0.005, drop: float = 0.2,
                     depth_noise: float = 0.0, keep=None):
    """``synthetic_signs`` with what the synthesizer meant (its ``Truth``: where and when the
    hands touch) as the third item."""
    from ..data.synth import Synthesizer

    synth = Synthesizer(body)
    made = 0
    for i in np.random.default_rng(seed).permutation(len(lexicon.entries)):
        if made == count:
            return
        if keep is not None and not keep(lexicon.entries[i]):
            continue
        try:
            motion, meant = synth.synthesize(lexicon.entries[i], int(i))
        except ValueError:
            continue
        lm, dropped = landmarks_from_motion(body, motion, noise=noise, drop=drop, rng=np.random.default_rng(int(i)),
                                            depth_noise=depth_noise)
        made += 1
        yield lexicon.entries[i], motion, meant, lm, dropped


def contact_frames(meant, gaps: np.ndarray, touch: float = 0.01) -> np.ndarray:
    """(T, 2) bool: the frames of the sign (``meant.sign_frames``) where a hand that the
    synthesizer made touch the head or body (left, right) is within ``touch`` of its skin
    (either side) in the true motion's ``gaps`` (``contact_gaps``)."""
    out = np.zeros(gaps.shape, bool)
    a, b = meant.sign_frames
    for k, side in enumerate(("left", "right")):
        target = meant.targets.get(side)
        if target and target["contact"]:
            out[a:b, k] = np.abs(gaps[a:b, k]) < touch
    return out


def fit_errors(body, truth, result) -> tuple[float, float]:
    """Mean finger joint angle error (degrees) and mean wrist position error (metres) of a
    fit (``Fitter.fit``'s result) against the true motion."""
    from ..motion import Motion

    t = len(result.poses)
    fitted = Motion(result.poses, np.zeros((t, 3)), np.zeros((t, 10)), truth.fps, betas=result.betas)
    return (float(np.degrees(finger_angle_error(truth.poses, result.poses)).mean()),
            float(wrist_error(body, truth, fitted).mean()))


def contact_gaps(body, truth, result) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) signed gaps (metres, negative inside) between each hand (left, right) and the
    head or torso's skin (``hand_gap``), in the true motion and in a fit of it, each on its
    own body."""
    from ..body.collide import hand_gap
    from ..motion import Motion

    t = len(result.poses)
    fitted = Motion(result.poses, np.zeros((t, 3)), np.zeros((t, 10)), truth.fps, betas=result.betas)
    out = []
    for m in (truth.with_(trans=np.zeros_like(truth.trans)), fitted):
        g = hand_gap(body, m)
        out.append(np.stack([g["left"], g["right"]], 1))
    return out[0], out[1]


def curl_agreement(body, truth, lm, result, closed: float = 150.0) -> dict:
    """Issue 17's fists and thumbs for one fit, over the frames where each hand was found: the
    curls (``finger_turns`` summed) of middle, ring and pinky in the landmarks, the fit and
    the truth on closed hands (the landmarks' mean curl of those three over ``closed``
    degrees), and the thumb's flexion in each over all found frames. Arrays, to pool over
    signs."""
    from .fit import finger_turns

    pos, sites, rig = truth_points(body, truth)
    out = {k: [] for k in ("curl_seen", "curl_fit", "curl_true", "thumb_seen", "thumb_fit", "thumb_true")}
    for side in ("left", "right"):
        found = lm.hand_found(side)
        seen = finger_turns((lm.left if side == "left" else lm.right)[found])
        fit = finger_turns(fitted_hand_points(body, result, side)[found])
        true = finger_turns(hand_points(pos, sites, rig, side)[found])
        shut = seen[:, 2:].sum(-1).mean(-1) > closed
        for name, turns in (("seen", seen), ("fit", fit), ("true", true)):
            out[f"curl_{name}"].append(turns[shut, 2:].sum(-1))
            out[f"thumb_{name}"].append(turns[:, 0, 1:].sum(-1))
    return {k: np.concatenate(v) for k, v in out.items()}


# Savitzky-Golay (5 frames, quadratic) smoothing weights: a frame less its local quadratic fit
# keeps a white noise's variance times 1 - 17/35 and removes any smooth motion's
_SG5 = np.array([-3.0, 12.0, 17.0, 12.0, -3.0]) / 35.0


def angle_jitter(hand: np.ndarray) -> tuple[float, float]:
    """How much a hand's landmarks jitter from frame to frame, in the angles the fists and
    thumb bars read (``finger_turns``): the median over its 15 joint turns, and its thumb's
    flexion, of each series' residual from a 5-frame quadratic fit, as the standard deviation
    of the white noise that leaves that residual (degrees). Only windows of 5 found frames
    count; NaN where there are none. Issue 17: the benchmark's synthetic landmarks against
    Holistic's on a real clip (smooth motion leaves almost no residual: 0.01 degrees on the
    synthetic signs without noise)."""
    from .fit import finger_turns

    hand = np.asarray(hand, np.float64)
    found = np.isfinite(hand).all((1, 2))
    turns = finger_turns(np.where(found[:, None, None], hand, 0.0))
    series = np.concatenate([turns.reshape(len(hand), -1), turns[:, 0, 1:].sum(-1, keepdims=True)], 1)
    whole = np.convolve(found.astype(float), np.ones(5), "valid") == 5      # windows of 5 found frames
    if not whole.any():
        return float("nan"), float("nan")
    windows = np.lib.stride_tricks.sliding_window_view(series, 5, axis=0)[whole]   # (n, 16, 5)
    resid = windows[..., 2] - windows @ _SG5
    sd = np.sqrt((resid ** 2).mean(0) / (1 - 17 / 35))
    return float(np.median(sd[:15])), float(sd[15])


def synthetic_jitter(body, lexicon, signs: int, seed: int, noise: float) -> tuple[float, float]:
    """``angle_jitter``'s two figures (joint turns, thumb flexion; degrees), each the median
    over the hands found in 20 frames or more of ``signs`` synthetic signs (seed ``seed``)
    with ``noise`` metres of landmark noise."""
    rows = [angle_jitter(hand) for _, _, lm, _ in synthetic_signs(body, lexicon, signs, seed=seed, noise=noise)
            for hand in (lm.left, lm.right) if np.isfinite(hand[:, 0, 0]).sum() >= 20]
    return float(np.nanmedian([r[0] for r in rows])), float(np.nanmedian([r[1] for r in rows]))


def holistic_noise(body, lexicon, real_hands, signs: int = 25, seed: int = 6, reference: float = 5e-4) -> dict:
    """The white landmark noise (metres) whose frame-to-frame jitter on synthetic signs equals
    Holistic's on a real clip, in the angles the fists and thumb bars read (``angle_jitter``'s
    joint turns): ``real_hands``' largest jitter (each (T, 21, 3), NaN where not found)
    against the median over ``signs`` synthetic signs' hands (seed ``seed``) at ``reference``
    metres of noise, scaled (small angles grow with the noise). Issue 17: the benchmark's 5 mm
    is nine times as jittery as Holistic's fingers, and there even the true hands' thumb
    correlates with the landmarks' at only 0.67. Holistic's slow error, which jitter cannot
    see, is not in it. Returns the noise and the jitters it came from (degrees)."""
    real = [angle_jitter(h) for h in real_hands if np.isfinite(h[:, 0, 0]).sum() >= 5]
    real_joints = max((j for j, _ in real if np.isfinite(j)), default=float("nan"))
    if not np.isfinite(real_joints):
        raise ValueError("no hand of the real clip is found in 5 frames in a row: its jitter cannot be measured")
    synth_joints, _ = synthetic_jitter(body, lexicon, signs, seed, reference)
    return {"noise_m": reference * real_joints / synth_joints, "real_joints_deg": real_joints,
            "synthetic_joints_deg_at_reference": synth_joints, "reference_noise_m": reference}


def fitted_hand_points(body, result, side: str) -> np.ndarray:
    """(T, 21, 3) MediaPipe-order points of one hand of a fit (``Fitter.fit``'s result), in
    metres, by the body's own forward kinematics."""
    from ..motion import Motion

    t = len(result.poses)
    m = Motion(result.poses, np.zeros((t, 3)), np.zeros((t, 10)), 25.0, betas=result.betas)
    pos, sites, rig = truth_points(body, m)
    return hand_points(pos, sites, rig, side)


def is_contact_sign(entry) -> bool:
    """A lexicon entry whose hand touches the head or the body (the signs issue 17's contact
    bar is measured on)."""
    from ..data.synth import LOCATIONS

    return entry.phonology.has_contact and LOCATIONS.get(entry.phonology.minor_location, ("",))[0] in ("head", "body")


def flicker_hand(lm: Landmarks, side: str, rng: np.random.Generator, share: float = 1 / 12, noise_px: float = 15.0,
                 world_noise: float = 0.08, visibility: float = 0.45) -> np.ndarray:
    """Make ``side`` a hand that Holistic barely sees, as a resting hand at the frame's edge:
    found only in flickers of 1-2 frames (about ``share`` of the frames), each a wrong
    detection (the hand turned 90-180 degrees about its wrist), while the body's wrist
    landmark jitters (``noise_px`` in the image, ``world_noise`` metres in depth) at a low
    visibility. Changes ``lm`` in place; returns the frames where the hand is found."""
    from ..body import rotations as R

    T = lm.num_frames
    hand = lm.left if side == "left" else lm.right
    found = np.zeros(T, bool)
    for a in rng.choice(T, size=max(2, int(T * share)), replace=False):
        found[a:a + int(rng.integers(1, 3))] = True
    for t in np.flatnonzero(found):
        axis = rng.normal(size=3)
        turn = R.np_axis_angle_to_matrix(axis / np.linalg.norm(axis) * np.radians(rng.uniform(90, 180)))
        hand[t] = hand[t, :1] + (hand[t] - hand[t, :1]) @ turn.T.astype(np.float32)
    hand[~found] = np.nan
    wi = BODY_INDEX[f"{side.upper()}_WRIST"]
    lm.pose[:, wi, :2] += rng.normal(0.0, noise_px, (T, 2)).astype(np.float32)
    lm.pose_conf[:, wi] = visibility
    if lm.world is not None:
        lm.world[:, wi, 2] += rng.normal(0.0, world_noise, T).astype(np.float32)
    return found


def wrist_turns(body, poses: np.ndarray, betas: np.ndarray, lm: Landmarks, side: str) -> tuple[np.ndarray, np.ndarray]:
    """One fitted hand's frame-to-frame turns in the body frame (T-1,) degrees, and whether
    the input shows each (T-1,) bool: the hand's landmarks turned over 45 degrees between
    two found frames, or the turn is the forearm's own (the hand turns under 45 degrees
    against the forearm, which the arm's landmarks drive). A turn over 45 degrees that the
    input does not show is a spin."""
    from .fit import _palm_frame, _to_smplx_axes

    glob, _ = Rig.from_body(body, betas).fk(np.asarray(poses, np.float64))

    def angle(a, b):
        tr = np.einsum("tij,tij->t", a, b)
        return np.degrees(np.arccos(np.clip((tr - 1) / 2, -1.0, 1.0)))

    hand, fore = glob[:, J[f"{side}_wrist"]], glob[:, J[f"{side}_elbow"]]
    turns = angle(hand[1:], hand[:-1])
    local = np.swapaxes(fore, 1, 2) @ hand
    p = _to_smplx_axes((lm.left if side == "left" else lm.right).astype(np.float64))
    seen, _ = _palm_frame(p - p[:, :1])
    found = lm.hand_found(side)
    with np.errstate(invalid="ignore"):
        seen_turn = angle(np.nan_to_num(seen[1:]), np.nan_to_num(seen[:-1]))
    shown = (found[1:] & found[:-1] & (seen_turn > 45)) | (angle(local[1:], local[:-1]) <= 45)
    return turns, shown


def flickered_resting_hands(body, fitter, lexicon, count: int, seed: int = 4):
    """Fits of one-handed factory signs whose resting hand Holistic barely sees: for each sign
    HandMotionScript measures as one-handed, its resting hand flickers (``flicker_hand``) and
    the landmarks are fitted. Yields (entry, truth motion, which hands are active, the resting
    side, the fit, the resting wrist's frame-to-frame turns from ``wrist_turns``)."""
    from ..data.hms import HMS

    hms = HMS(body)
    for entry, truth, lm, _ in synthetic_signs(body, lexicon, count, seed=seed):
        active = {s: h.active for s, h in hms.measure(truth).hands.items()}
        if sum(active.values()) != 1:
            continue
        rest = min(active, key=active.get)
        flicker_hand(lm, rest, np.random.default_rng(0))
        result = fitter.fit(lm)
        turns, _ = wrist_turns(body, result.poses, result.betas, lm, rest)
        yield entry, truth, active, rest, result, turns
