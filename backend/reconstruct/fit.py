"""Fit SMPL-X (upper body, both hands, jaw, shape) to MediaPipe Holistic landmarks, batched over frames.

Axes: landmarks come in image pixels (x right, y down, z away from the camera). SMPL-X
has +Y up, the body facing +Z and +X on the body's left. The camera is taken to look at
the signer from the front and *not* to mirror the image (a plain camera, not a selfie
preview): the signer's left then appears on the image's right, so SMPL-X X = +x, Y = -y,
Z = -z, and MediaPipe's LEFT_* landmarks (the signer's own left, as Holistic labels them)
drive SMPL-X's left joints. A mirrored recording swaps the hands; mirror the Motion
(``Motion.mirror``) to undo that.

Two stages, each one batch over all frames:

1. Hands (per side, frames where the hand was found): 15 finger rotations so that the
   model's 21 hand points, in the model's palm frame, match the landmarks in the
   landmarks' palm frame (wrist-frame 3D loss: finger articulation does not depend on
   the arm), scaled to the model's palm; joint-limit and pose priors, smoothness.
2. Body: spine, neck, head, collars, shoulders, elbows, wrists and the shape (betas),
   with a weak-perspective camera (scale per clip, image offset per frame). Losses: arm
   and head landmarks in the body frame (3D, relative to the shoulder centre; MediaPipe's
   world landmarks when present, else the pixel landmarks with their relative depth),
   hand orientation (palm points relative to the wrist, body frame), 2D reprojection of
   arms, head and all hand points, priors and temporal smoothness. Shoulders and elbows
   start from a closed-form aim of the rest bones at the landmarks. The torso is held near
   upright (``UPRIGHT``): its lean is next to unseen from the front. Every term is weighed
   by how sure its landmark is (``point_confidence``, ``hand_confidence``): points at or
   beyond the frame's edge are guesses, their depths held from sure frames; a flickering
   or edge-cut hand is not followed, and a confidence-weighted temporal prior lets a hand
   turn between frames only as its palm's landmarks show (issue 17: passive hands spun).

The jaw opens by the lips' gap measured against the eyes' distance (closed form).
Fingertips ride rigidly on the third finger bone (their rest offset from the body's
fingertip sites). numpy only: the losses' gradients written out in ``kinematics``, minimized by
``optim``; the contact term's head and torso skin in ``skin``. Never torch or bpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..body import rotations as R
from ..body.rig import _site_skin
from ..body.sites import SITE_INDEX
from ..body.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS
from ..io.pose import BODY_INDEX, Landmarks
from . import kinematics as K
from .gaps import MAX_GAP, fill_gaps, runs
from .optim import adam, lbfgs
from .skin import PALM, Skin, nearest_sq

J = JOINT_INDEX
FINGERS_MP = ("thumb", "index", "middle", "ring", "pinky")      # MediaPipe order of the 20 points
HAND_JOINTS = {side: [J[f"{side}_wrist"]] + [J[f"{side}_{f}{k}"] for f in FINGERS_MP for k in (1, 2, 3)]
               for side in ("left", "right")}
# SMPL-X hand pose order (index, middle, pinky, ring, thumb) -> per-finger chains
SMPLX_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
MP_TIP = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}
MP_CHAIN = {f: [1 + 4 * i + k for k in range(4)] for i, f in enumerate(FINGERS_MP)}   # joint1..3, tip
KNUCKLES = slice(5, 18, 4)                                     # 5, 9, 13, 17
UPPER = ("spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "head", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")
UPPER_IDX = [J[n] for n in UPPER]
_UPPER_AT = {n: i for i, n in enumerate(UPPER)}
_UPPER_PARENT_IDX = [PARENTS[j] for j in UPPER_IDX]
_UPPER_PARENT_AT = np.array([UPPER_IDX.index(p) if p in UPPER_IDX else -1 for p in _UPPER_PARENT_IDX])
_UPPER_BELOW = K.subtree_matrix(_UPPER_PARENT_AT)
# UPPER is ordered by depth: its levels as (joints, parents) slices for ``kinematics.body_chain``
# (one parent broadcasts to a level's joints: spine3 to the neck and collars)
_LEVELS = K.chain_levels(_UPPER_PARENT_AT)
ARM_POINTS = ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST")
ARM_JOINTS = [J["left_shoulder"], J["right_shoulder"], J["left_elbow"], J["right_elbow"], J["left_wrist"],
              J["right_wrist"]]
HEAD_POINTS = ("NOSE", "LEFT_EAR", "RIGHT_EAR", "LEFT_EYE", "RIGHT_EYE")
HEAD_SITES = ("nose", "left_ear", "right_ear", "left_eye", "right_eye")
# the most a finger's knuckle, middle and end joint flex (radians). MediaPipe draws a fist's
# middle joints bent 140-150 degrees, and the fit stops them at about 109 (issue 17: fists
# fitted 25-35 degrees short). Letting the middle joints reach 2.4 closed that to 25 degrees,
# but made fists bistable: the shared .pose file turned sideways and back fitted a finger
# 19 degrees apart from the upright file (test_reconstruct_inputs), so the limit stays at 1.9
# until the fist fit is made well-posed.
FLEX_MAX = (1.9, 1.9, 1.9)
UPRIGHT = 100.0


@dataclass
class FitResult:
    poses: np.ndarray                    # (T, 55, 3)
    betas: np.ndarray                    # (10,)
    hand_state: dict                     # side -> (T,) 2 found, 1 interpolated, 0 held/absent
    reprojection_px: float               # mean 2D distance of the fitted points to the landmarks
    projected: np.ndarray                # (T, 55 + 42, 2) joints then hand points in pixels
    timings: dict = field(default_factory=dict)


def _to_smplx_axes(p: np.ndarray) -> np.ndarray:
    return p * np.array([1.0, -1.0, -1.0], np.float32)


def _palm_frame(pts):
    """(.., 21, 3) hand points -> (.., 3, 3) orthonormal palm frame (columns) and palm size."""
    w = pts[..., 0, :]
    u = pts[..., 9, :] - w
    side = pts[..., 5, :] - pts[..., 17, :]
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-9)
    n = np.cross(u, side)
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    v = np.cross(n, u)
    size = np.linalg.norm(pts[..., [5, 9, 13, 17], :] - w[..., None, :], axis=-1).mean(-1)
    return np.stack([u, v, n], -1), size


def finger_turns(points: np.ndarray) -> np.ndarray:
    """(T, 21, 3) MediaPipe-order hand points -> (T, 5, 3) degrees each finger (thumb, index,
    middle, ring, pinky) turns at its three joints: between its palm bone (wrist to first
    joint) and first bone, and between each bone and the next. Their sum is the finger's
    curl (0 straight, about 180-270 in a fist); the thumb's last two are its flexion (MCP
    and IP; the first is mostly opposition). Any uniform scale of the points gives the same."""
    p = np.asarray(points, np.float64)
    out = np.zeros(p.shape[:1] + (5, 3))
    for i in range(5):
        chain = [0] + [1 + 4 * i + k for k in range(4)]
        bones = p[:, chain[1:]] - p[:, chain[:-1]]
        bones = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-12)
        cos = (bones[:, 1:] * bones[:, :-1]).sum(-1).clip(-1.0, 1.0)
        out[:, i] = np.degrees(np.arccos(cos))
    return out


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (.., 3, 3) taking directions a to b."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-9)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = (a * b).sum(-1, keepdims=True)
    angle = np.arctan2(s, c)
    aa = axis / np.maximum(s, 1e-9) * angle
    return R.np_axis_angle_to_matrix(aa)


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of NaN entries (edges held); all-NaN columns -> 0."""
    x = x.copy()
    t = np.arange(len(x))
    flat = x.reshape(len(x), -1)
    for k in range(flat.shape[1]):
        ok = np.isfinite(flat[:, k])
        if ok.all():
            continue
        flat[:, k] = np.interp(t, t[ok], flat[ok, k]) if ok.any() else 0.0
    return flat.reshape(x.shape)


def confidence_smooth(z: np.ndarray, conf: np.ndarray, step: float = 0.1, floor: float = 1e-3) -> np.ndarray:
    """(T, P) series (NaN where missing) -> the same filtered by their (T, P) confidence in
    [0, 1]: per column, the z minimizing sum_t conf_t^2 (z_t - obs_t)^2 + step * sum_t
    (z_t - z_t-1)^2. A sure value is kept nearly as seen; through unsure frames the series
    holds the sure values around it; one never sure keeps its mean (``floor`` keeps the
    system solvable)."""
    T = len(z)
    ok = np.isfinite(z)
    if T < 2:
        return np.array(z, np.float64, copy=True)
    c = np.where(ok, np.nan_to_num(conf).clip(0.0, 1.0) ** 2, 0.0) + floor
    rhs = c * np.nan_to_num(z)
    diag = c + step * np.r_[1.0, 2.0 * np.ones(T - 2), 1.0][:, None]
    # the normal equations are tridiagonal (-step off the diagonal): Thomas' algorithm, all
    # points at once
    cp, dp = np.zeros_like(diag), np.zeros_like(diag)
    cp[0], dp[0] = -step / diag[0], rhs[0] / diag[0]
    for t in range(1, T):
        m = diag[t] + step * cp[t - 1]
        cp[t], dp[t] = -step / m, (rhs[t] + step * dp[t - 1]) / m
    out = np.zeros_like(diag)
    out[-1] = dp[-1]
    for t in range(T - 2, -1, -1):
        out[t] = dp[t] - cp[t] * out[t + 1]
    return np.where(ok, out, np.nan)


def _shoulder_px(lm: Landmarks) -> float:
    sw = np.linalg.norm(lm.pose[:, 11, :2] - lm.pose[:, 12, :2], axis=-1)
    return float(np.nanmedian(sw)) if np.isfinite(sw).any() else float(lm.width) / 4


def _in_frame(xy: np.ndarray, width: float, height: float, margin: float, shift: float = 0.0) -> np.ndarray:
    """(...) 0 for a point ``shift`` pixels outside the image's border (or further out),
    rising to 1 at ``margin - shift`` pixels inside it: MediaPipe guesses the points it
    cannot see (a hand at the frame's edge is half cut off), and its guesses of depth most
    of all."""
    inside = np.minimum(np.minimum(xy[..., 0], width - xy[..., 0]), np.minimum(xy[..., 1], height - xy[..., 1]))
    return np.clip((inside + shift) / margin, 0.0, 1.0)


def point_confidence(lm: Landmarks, idx: list[int], visibility: bool = True, outside: bool = False) -> np.ndarray:
    """(T, len(idx)) trust in body landmarks ``idx``: MediaPipe's visibility (unless
    ``visibility`` is False) times how far inside the frame the point lies: 0 on the
    border, 1 from a quarter of a shoulder width inside it; with ``outside``, 1 on the
    border and 0 from a quarter of a shoulder width outside it."""
    xy = lm.pose[:, idx, :2].astype(np.float64)
    vis = np.nan_to_num(lm.pose_conf[:, idx].astype(np.float64)) if visibility else 1.0
    vis = vis * np.isfinite(xy[..., 0])
    margin = _shoulder_px(lm) / 4
    return vis * _in_frame(np.nan_to_num(xy, nan=-1e9), lm.width, lm.height, margin, margin if outside else 0.0)


def hand_confidence(lm: Landmarks, side: str) -> np.ndarray:
    """(T,) trust in one hand's landmarks: 0 where not found; else from 1 (all its points
    inside the frame) down to 0.5 (all outside: a hand cut by the frame's edge is half
    guessed), times the agreement of its wrist with the body's wrist landmark (a hand found
    on the wrong spot is a false detection), times 0.3 for a detection that lasts under three
    frames amid misses (a flicker, not a track)."""
    h = lm.left if side == "left" else lm.right
    found = lm.hand_found(side)
    conf = np.zeros(lm.num_frames)
    if not found.any():
        return conf
    sw = _shoulder_px(lm)
    inside = _in_frame(np.nan_to_num(h[..., :2].astype(np.float64), nan=-1e9), lm.width, lm.height, sw / 4).mean(1)
    body_wrist = lm.pose[:, BODY_INDEX[f"{side.upper()}_WRIST"], :2].astype(np.float64)
    d = np.linalg.norm(h[:, 0, :2] - body_wrist, axis=-1)
    agree = np.where(np.isfinite(d), np.exp(-(np.nan_to_num(d) / (0.5 * sw)) ** 2), 1.0)
    conf = np.where(found, (0.5 + 0.5 * inside) * agree, 0.0)
    for a, b in runs(found):
        if b - a < 3 and (a > 0 or b < lm.num_frames):
            conf[a:b] *= 0.3
    return conf


class Fitter:
    """SMPL-X fitting for one body model (mannequin or the user's file)."""

    def __init__(self, body, iters_hand: int = 60, iters_body: int = 150):
        m = body.model
        self.body = body
        # L-BFGS takes the hands (smooth, per frame nearly separable) to the accuracy of 150
        # Adam steps in 60 iterations. The body (robust 2D terms, camera) stays with Adam:
        # L-BFGS ends at a higher loss there in the same time. Its shape and camera scale
        # learn twice as fast as before, which reached the old 150-step loss in 100 steps;
        # with the contact steps and the torso's prior, 150 steps (110 before the contact
        # term, 40 with it) take exact-depth wrists from 1.08 to 0.995 cm (200: 0.979).
        self.iters_hand, self.iters_body = iters_hand, iters_body
        self.w2d = 2.5e-4          # 2D reprojection scale (smaller = stronger): the image outranks depth
        self.hand_smooth = 50.0   # per-frame landmark noise is large against 2-3 cm finger bones
        # passive and flickering hands: the hands' orientation priors (``_hold_weights``), the
        # share of weight kept by a body landmark at or outside the frame's edge, and the step
        # weight of ``confidence_smooth`` on the depth targets
        self.hold_rot, self.hold_rot_base = 3.0, 10.0
        self.sure_hand = 0.35     # a hand this sure or less (a flicker) is not followed: the prior holds it
        self.edge_weight = 0.35
        self.depth_hold = 0.1
        # contact (issue 17: a hand on the face landed 13-20 cm in front of it, where MediaPipe's
        # depth put it): after ``iters_body - iters_contact`` steps, a hand whose landmarks
        # overlap the head or torso in the image while the fit has it within reach of their
        # skin (or inside) is taken to touch it, and pulled onto it with weight
        # ``contact_weight`` against the depth landmarks. The reach is the clip's own depth
        # error (``_depth_spread``) times ``reach_per_spread``, between ``contact_reach_min``
        # and ``contact_reach``: with trustworthy depth only a hand already at the skin is
        # pulled (a fixed 10 cm pulled hands that hover in front of the chest onto it: wrists
        # 1.05 -> 1.45 cm on exact depth). Every other hand inside the skin, or within 2 cm of
        # it, is kept out of it.
        self.iters_contact, self.contact_reach, self.contact_weight = 40, 0.10, 6.0
        self.reach_per_spread, self.contact_reach_min = 2.5, 0.02
        self.contact_gap = 0.005   # where a touch puts the nearest touching point
        # a hand never found in the clip has no evidence of touching anything: its guard keeps
        # its nearest point ``unseen_gap`` off the skin (the viewer's skin is the full mesh,
        # the fit's a 1.5 cm sample: with the touch's 0.5 cm it still sat 1.3 cm inside)
        self.unseen_gap = 0.02
        # the torso's lean (forward or back) is all but unobservable from a front camera:
        # the arm and head targets are relative to the shoulders and the image offset is free
        # per frame, so MediaPipe's guessed depths leaned the shared .pose file's signer 21
        # degrees back at rest and 21 forward while signing (side view). ``upright`` weighs
        # the squared forward component of spine1-3's up axes (sin^2 of their lean)
        self.upright = UPRIGHT
        vt = m.v_template.detach().double().numpy()
        sd = m.shapedirs.detach().double().numpy()[..., :10]
        jr = m.J_regressor.detach().double().numpy()[:NUM_JOINTS]
        self.j_template = jr @ vt                                   # (55, 3)
        self.j_dirs = np.einsum("jv,vkl->jkl", jr, sd)              # (55, 3, 10)
        reg = body.sites.regressor
        self.s_template = reg @ vt
        self.s_dirs = np.einsum("sv,vkl->skl", reg, sd)
        self.tip_sites = {s: [SITE_INDEX[f"{s}_{f}_tip"] for f in FINGERS_MP] for s in ("left", "right")}
        skin = _site_skin(body)
        a_full = skin["reg"] @ skin["weights"]                                   # (S, 55)
        rw = skin["reg"][:, :, None] * skin["weights"][None]                      # (S, v, 55)
        b0 = np.einsum("svj,vk->sjk", rw, skin["v_template"]) - a_full[..., None] * skin["j_template"][None]
        db = (np.einsum("svj,vkl->sjkl", rw, skin["shapedirs"][..., :10])
              - a_full[..., None, None] * skin["j_shapedirs"][None, ..., :10])
        # The thumb's MCP and IP are hinges: their axis is perpendicular to the bone, in the
        # rest palm's plane (the rest palm faces -Y).
        self.thumb_hinge = {}
        for side in ("left", "right"):
            bone = self.j_template[J[f"{side}_thumb3"]] - self.j_template[J[f"{side}_thumb2"]]
            axis = np.cross(bone, [0.0, 1.0, 0.0])
            self.thumb_hinge[side] = axis / np.linalg.norm(axis)
        self.tip_a, self.tip_b0, self.tip_db = {}, {}, {}
        for side in ("left", "right"):
            hj = HAND_JOINTS[side]
            rows = self.tip_sites[side]
            a = a_full[np.ix_(rows, hj)]
            norm = a.sum(1, keepdims=True)
            self.tip_a[side] = a / norm
            self.tip_b0[side] = b0[np.ix_(rows, hj)] / norm[..., None]
            self.tip_db[side] = db[np.ix_(rows, hj)] / norm[..., None, None]
        self.head_sites = [SITE_INDEX[n] for n in HEAD_SITES]
        self.skin = Skin(body, (self.j_template, self.j_dirs), (vt, sd), UPPER_IDX)

    # ---------------------------------------------------------------- rest geometry
    def rest(self, betas: np.ndarray):
        """Rest joints (55, 3) and sites (S, 3) for ``betas``."""
        b = np.asarray(betas, float)
        return self.j_template + self.j_dirs @ b, self.s_template + self.s_dirs @ b

    def _skin_at(self, out: dict, betas: np.ndarray, frames: np.ndarray | None = None,
                 samples: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The head and torso skin (``Skin.pose``) posed by ``_forward``'s output, in all
        frames or ``frames``, frame-major: (T, V, 3) samples and normals, or (T, K, 3) for
        ``samples`` (T, K)."""
        glob, pos = out["glob"], out["pos"]
        if frames is not None:
            glob, pos = glob[..., frames], pos[..., frames]
        return self.skin.pose(glob.transpose(3, 2, 0, 1), pos.transpose(2, 1, 0), betas, samples)

    def _hand_rest(self, side: str, betas) -> dict:
        """The hand's rest geometry for ``betas``, relative to the wrist, as
        ``kinematics.hand_chain`` takes it (components first): knuckles (3, 5) and bones
        (3, 5, 2) in MediaPipe finger order, and the fingertips' skinning: weights (5, 16) and
        offsets (3, 5, 16) over the wrist and the 15 finger joints (exact linear blend
        skinning of the body's fingertip sites)."""
        b = np.asarray(betas, np.float64)
        joints, _ = self.rest(b)
        w = joints[J[f"{side}_wrist"]]
        chain = np.array([[joints[J[f"{side}_{f}{k}"]] for k in (1, 2, 3)] for f in FINGERS_MP])   # (5, 3, 3)
        return {"knuckles": (chain[:, 0] - w).T, "bones": (chain[:, 1:] - chain[:, :-1]).transpose(2, 0, 1),
                "tip_a": self.tip_a[side], "tip_b": (self.tip_b0[side] + self.tip_db[side] @ b).transpose(2, 0, 1)}

    def _rest_hand_points(self, side: str, betas=None) -> np.ndarray:
        """(21, 3) the hand's rest points relative to the wrist (MediaPipe order)."""
        rot = np.broadcast_to(np.eye(3)[:, :, None, None, None], (3, 3, 5, 3, 1))
        return K.hand_chain(rot, **self._hand_rest(side, np.zeros(10) if betas is None else betas))[0][..., 0].T

    # ---------------------------------------------------------------- stage 1: hands
    def fit_hand(self, side: str, obs: np.ndarray, betas=None, found: np.ndarray | None = None) -> np.ndarray:
        """(n, 21, 3) pixel landmarks of one hand -> (n, 15, 3) SMPL-X hand pose. Frames
        where ``found`` is False (NaN landmarks) have no data term: the smoothness term
        carries the fingers across them."""
        n = len(obs)
        found = np.isfinite(obs[:, :, 0]).all(1) if found is None else np.asarray(found, bool)
        obs = np.where(found[:, None, None], obs, 0.0)
        hr = self._hand_rest(side, np.zeros(10) if betas is None else betas)
        p = _to_smplx_axes(obs.astype(np.float64))
        p = p - p[:, :1]
        frame_o, size_o = _palm_frame(p)
        rest_pts = self._rest_hand_points(side, betas)
        frame_m, size_m = _palm_frame(rest_pts)
        local_o = np.einsum("tki,tpk->tpi", frame_o, p) * (size_m / np.maximum(size_o, 1e-9))[:, None, None]
        local_o = _closed_to_model(local_o, rest_pts)
        # the targets turned into the model's wrist frame (the palm frames are orthonormal:
        # the same distances as the model's points turned into the seen palm's frame)
        target = (local_o @ frame_m.T)[:, 1:].transpose(2, 1, 0)                 # (3, 20, n)
        flex = _flex_sign(side)
        hinge = self.thumb_hinge[side]
        w_data = found / max(found.sum(), 1) / (20 * 1e-4)      # per frame: the mean over the 20 points

        def loss_grad(x):
            aa = x.reshape(3, 5, 3, n)                          # components, finger, joint, frame
            rot, rot_cache = K.rodrigues(aa)
            pts, cache = K.hand_chain(rot, **hr)
            err = pts[:, 1:] - target
            w_err = err * w_data
            d_pts = np.zeros_like(pts)
            d_pts[:, 1:] = 2 * w_err
            prior, d_prior = _finger_prior(aa, flex, hinge)
            smooth, d_smooth = K.smooth_loss(aa)
            grad = K.rodrigues_grad(rot_cache, K.hand_chain_grad(cache, d_pts)) + d_prior + self.hand_smooth * d_smooth
            return float(w_err.ravel() @ err.ravel()) + prior + self.hand_smooth * smooth, grad.ravel()

        x = lbfgs(loss_grad, np.zeros(45 * n), self.iters_hand)
        return _mp_to_smplx_hand(x.reshape(3, 5, 3, n).transpose(3, 1, 2, 0)).astype(np.float32)

    # ---------------------------------------------------------------- stage 2: body
    def fit(self, lm: Landmarks, progress=None) -> FitResult:
        import time

        t0 = time.perf_counter()
        T = lm.num_frames
        found = {s: lm.hand_found(s) for s in ("left", "right")}
        hand_pose = {s: np.zeros((T, 15, 3), np.float32) for s in ("left", "right")}
        for side in ("left", "right"):
            if found[side].any():
                hand_pose[side] = self.fit_hand(side, lm.left if side == "left" else lm.right, found=found[side])
        t1 = time.perf_counter()
        if progress:
            progress(1, 3)
        hand_conf = {s: hand_confidence(lm, s) for s in ("left", "right")}
        poses, betas, cam = self._fit_body(lm, hand_pose, found, hand_conf)
        t2 = time.perf_counter()
        if progress:
            progress(2, 3)
        state = {}
        for side, sl in (("left", slice(25, 40)), ("right", slice(40, 55))):
            poses[:, sl] = hand_pose[side]
            # short gaps already hold the smooth fits' interpolation; long ones are held. Only
            # the fingers: the wrist keeps the body fit's, whose orientation prior holds a lost
            # or barely seen hand still in the body frame while the arm turns (a wrist held in
            # the forearm's frame would spin with the forearm's unseen twist)
            poses[:, sl], state[side] = fill_gaps(poses[:, sl], found[side], interpolate=False)
        poses[:, J["jaw"]] = jaw_from_face(lm.face)
        proj, err = self._reprojection(lm, poses, betas, cam, found)
        return FitResult(poses.astype(np.float32), betas.astype(np.float32), state, err, proj,
                         {"fit_hands_s": t1 - t0, "fit_body_s": t2 - t1})

    def _observations(self, lm: Landmarks, shoulder_m: float):
        """Body-frame 3D targets (metres, relative to the shoulder centre) and 2D targets."""
        names = ARM_POINTS + HEAD_POINTS
        idx = [BODY_INDEX[n] for n in names]
        px = lm.pose[:, idx, :2].astype(np.float64)
        vis = lm.pose_conf[:, idx].astype(np.float64) * np.isfinite(px[..., 0])
        sh = lm.pose[:, [BODY_INDEX["LEFT_SHOULDER"], BODY_INDEX["RIGHT_SHOULDER"]]]
        width_px = np.linalg.norm(sh[:, 0, :2] - sh[:, 1, :2], axis=-1)
        ok = np.isfinite(width_px) & (width_px > 1)
        if not ok.any():
            raise ValueError("no frame shows both shoulders: the signer's body was not found")
        m_per_px = shoulder_m / float(np.median(width_px[ok]))
        if lm.world is not None and np.isfinite(lm.world[:, idx[:6], 0]).any():
            w3 = _to_smplx_axes(lm.world[:, idx].astype(np.float64))
            w3 = w3 - w3[:, :2].mean(1, keepdims=True)
            depth_w = 1.0
        else:
            w3 = _to_smplx_axes(lm.pose[:, idx].astype(np.float64)) * m_per_px
            w3 = w3 - w3[:, :2].mean(1, keepdims=True)
            depth_w = 0.3
        w3 = np.where(np.isfinite(w3), w3, np.nan)
        hands = {}
        for side in ("left", "right"):
            h = (lm.left if side == "left" else lm.right).astype(np.float64)
            p = _to_smplx_axes(h)
            p = p - p[:, :1]
            hands[side] = (h[..., :2], p)
        return px, vis, w3, depth_w, hands, m_per_px

    def _fit_body(self, lm: Landmarks, hand_pose: dict, found: dict, hand_conf: dict | None = None):
        T = lm.num_frames
        if hand_conf is None:
            hand_conf = {s: hand_confidence(lm, s) for s in ("left", "right")}
        joints0, _ = self.rest(np.zeros(10))
        shoulder_m = float(np.linalg.norm(joints0[J["left_shoulder"]] - joints0[J["right_shoulder"]]))
        px, vis, w3, depth_w, hands, m_per_px = self._observations(lm, shoulder_m)
        # MediaPipe's depth is the least sure of its guesses, and wildest for the points it
        # cannot see: a depth target holds the sure depths around it through the frames where
        # its point is unsure (low visibility, or outside the frame)
        idx = [BODY_INDEX[n] for n in ARM_POINTS + HEAD_POINTS]
        w3[..., 2] = confidence_smooth(w3[..., 2], point_confidence(lm, idx, outside=True), self.depth_hold)
        w3f = _fill_nan(w3)
        init = self._initial_pose(w3f, hands, found, joints0)
        # camera: u = s * X + tx, v = -s * Y + ty (model metres, pelvis at the origin)
        s0 = 1.0 / m_per_px
        sh_model = (joints0[J["left_shoulder"]] + joints0[J["right_shoulder"]]) / 2
        sh_px = _fill_nan(px[:, :2].mean(1))
        txy0 = np.stack([sh_px[:, 0] - s0 * sh_model[0], sh_px[:, 1] + s0 * sh_model[1]], -1)
        scale_px = float(np.nanmedian(np.linalg.norm(px[:, 0] - px[:, 1], axis=-1)))
        # the unknowns, one vector: the upper body's rotations, the betas, the camera's log
        # scale and the image offsets in shoulder widths (every unknown is of order one)
        n_aa = T * len(UPPER) * 3
        parts = {"aa": slice(0, n_aa), "betas": slice(n_aa, n_aa + 10), "log_s": slice(n_aa + 10, n_aa + 11),
                 "dtxy": slice(n_aa + 11, n_aa + 11 + 2 * T)}
        x0 = np.concatenate([init[:, UPPER_IDX].transpose(2, 1, 0).ravel(), np.zeros(10), [np.log(s0)], np.zeros(2 * T)])
        lr = np.concatenate([np.full(n_aa, 0.03), np.full(10, 0.1), [0.02], np.full(2 * T, 2.0 / scale_px)])

        def unpack(x):       # components first, frames last (``kinematics``' layout)
            return (x[parts["aa"]].reshape(3, len(UPPER), T), x[parts["betas"]], float(x[parts["log_s"]][0]),
                    x[parts["dtxy"]].reshape(2, T))

        # the fitted fingers stay fixed here: the hands' points are precomputed, affine in the betas.
        # A hand never found has them too (its fingers at rest): it has no data term, but the
        # contact guard keeps it out of the skin (issue 17: the shared .pose file's left hand,
        # never found, hung 5.3 cm inside the torso's skin at rest)
        hand_local = {s: self._hand_local(s, hand_pose[s]) for s in ("left", "right")}
        # a point at the frame's edge or outside it is a guess in the image too: it keeps a
        # share (``edge_weight``) of its weight, enough to place the arm, not to jerk it about
        ew = self.edge_weight
        img_w = vis * (ew + (1 - ew) * point_confidence(lm, idx, visibility=False))
        t_px, t_w3 = np.nan_to_num(px), np.nan_to_num(w3)
        w3_ok = np.isfinite(w3[..., 0]) * (vis > 0.3)
        # a hand counts by its confidence squared; one no surer than ``sure_hand`` (a flicker,
        # a hand cut by the frame's edge) not at all: the orientation prior carries it
        hand_w = {s: np.where(c > self.sure_hand, c, 0.0) ** 2 for s, c in hand_conf.items()}
        # the data terms' constant weights and scales, folded ahead of the steps: the 3D
        # term's per point and axis, the image term's (robust at 0.2 shoulder widths: the same
        # Geman-McClure on pixels, its scale times scale_px), and per hand its knuckles seen
        # relative to the wrist in units of their mean distance (the wrist's own term, 0 = 0,
        # is left out; the sum over the palm is still over its five points)
        w3w = ((w3_ok / max(w3_ok.sum(), 1) / 1e-3)[..., None] * np.array([1.0, 1.0, depth_w]) ** 2).T
        sigma_px, img_w2 = 0.2 * scale_px, (img_w / max(img_w.sum(), 1) / self.w2d / scale_px ** 2).T
        flip = np.array([1.0, -1.0])[:, None, None]
        t_px_c, t_w3_c, txy0_c = t_px.T, t_w3.T, txy0.T                     # components first
        hand_t = {}
        for sd in ("left", "right"):
            if hand_w[sd].any():
                knuckles, ok = np.nan_to_num(hands[sd][1])[:, KNUCKLES], hand_w[sd]
                size_o = np.maximum(np.linalg.norm(knuckles, axis=-1).mean(-1), 1e-6)
                hand_t[sd] = (np.nan_to_num(hands[sd][0]).T, (knuckles / size_o[:, None, None]).T,
                              ok / ok.sum() / (1e-4 * len(PALM)), ok / ok.sum() / (1e-3 * 21) / scale_px ** 2)
        hold = self._hold_weights(hand_conf, hands)
        # without metric 3D (world landmarks) the shape is barely observable: keep it near the mean
        beta_w = 0.02 if depth_w >= 1.0 else 0.5
        contact: dict = {}
        k = _UPPER_AT
        arm = slice(k["left_shoulder"], k["right_wrist"] + 1)

        def loss_grad(x):
            aa, betas, log_s, dtxy = unpack(x)
            # only the hands with a term: a hand never found and off the skin moves nothing
            out, cache = self._forward(aa, betas, {sd: hand_local[sd] for sd in hand_t.keys() | contact.keys()})
            d_pos, d_glob = np.zeros_like(out["pos"]), np.zeros_like(out["glob"])
            d_hands = {sd: np.zeros_like(out[f"{sd}_hand"]) for sd in hand_t.keys() | contact.keys()}
            txy = (txy0_c + scale_px * dtxy)[:, None]                      # (2, 1, T)
            pts3 = np.concatenate([out["arm"], out["head"]], 1)             # (3, 11, T)
            err = pts3 - 0.5 * (out["arm"][:, :1] + out["arm"][:, 1:2]) - t_w3_c
            w_err = err * w3w
            loss = float(w_err.ravel() @ err.ravel())
            d_pts = 2 * w_err
            d_centre = -0.5 * d_pts.sum(1, keepdims=True)
            sf = np.exp(log_s) * flip                                       # u = s X + tx, v = -s Y + ty
            d_sf, d_txy = np.zeros(2), np.zeros((2, T))
            for pts, obs, w, d in [(pts3, t_px_c, img_w2, d_pts)] + [
                    (out[f"{sd}_hand"], obs2, ok2, d_hands[sd]) for sd, (obs2, _, _, ok2) in hand_t.items()]:
                u = pts[:2] * sf + (txy - obs)
                rho, d_rho = K.gmof((u * u).sum(0), sigma_px)
                loss += float((rho * w).sum())
                du = (2 * d_rho * w) * u
                d[:2] += du * sf
                d_sf += np.einsum("apt,apt->a", du, pts[:2])
                d_txy += du.sum(1)
            for sd, (_, knuckles_o, ok3, _) in hand_t.items():
                hp = out[f"{sd}_hand"]                                      # (3, 21, T) absolute
                kn = hp[:, KNUCKLES] - hp[:, :1]
                length = np.sqrt((kn * kn).sum(0))
                err = kn - knuckles_o * (0.25 * length.sum(0))
                loss += float((err * err).sum((0, 1)) @ ok3)
                d_kn = 2 * err * ok3
                d_size = -(d_kn * knuckles_o).sum((0, 1))
                d_kn += (d_size / 4) * kn / length
                d_hands[sd][:, KNUCKLES] += d_kn
                d_hands[sd][:, 0] -= d_kn.sum(1)
            for sd, (frames, w, near, touch, clear) in contact.items():
                # a touch lands on the skin; a guarded frame only keeps out of it
                gap, d_gap = Skin.gap(_hand_at(out, sd, frames), *self._skin_at(out, betas, frames, near), grad=True)
                off = gap - clear
                val = np.where(touch, off, np.maximum(-off, 0.0))
                scale = self.contact_weight / T / 1e-3
                loss += scale * float(w * val @ val)
                d_off = scale * 2 * w * val * np.where(touch, 1.0, -1.0)
                d_hands[sd][..., frames] += (d_off[:, None, None] * d_gap).transpose(2, 1, 0)
            held, d_held = _hold_loss(out["glob"], hold)
            d_glob[:, :, k["left_wrist"]:k["right_wrist"] + 1] += d_held
            lean = out["glob"][2, 1, :3]             # spine1-3's up axes' forward (z) component
            d_glob[2, 1, :3] += self.upright * 2 / lean.size * lean
            d_pos[:, arm] += d_pts[:, :6]
            d_pos[:, arm.start:arm.start + 2] += d_centre
            d_aa, d_betas = self._forward_grad(out, cache, betas, d_pos, d_glob, d_pts[:, 6:], d_hands)
            prior, d_prior = _body_prior(aa)
            over = np.maximum(np.abs(betas) - 2.4, 0.0)
            smooth_a, d_smooth_a = K.smooth_loss(aa)
            smooth_t, d_smooth_t = K.smooth_loss(dtxy)
            loss += (held + self.upright * float(lean.ravel() @ lean.ravel()) / lean.size + prior
                     + beta_w * float(betas @ betas) + 100 * float(over @ over) + 20 * smooth_a + 1e3 * smooth_t)
            grad = np.concatenate([(d_aa + d_prior + 20 * d_smooth_a).ravel(),
                                   d_betas + 2 * beta_w * betas + 200 * over * np.sign(betas),
                                   [float(d_sf @ sf[:, 0, 0])], (scale_px * d_txy + 1e3 * d_smooth_t).ravel()])
            return loss, grad

        def clamp(x):
            np.clip(x[parts["betas"]], -2.5, 2.5, out=x[parts["betas"]])

        first = self.iters_body - self.iters_contact if self.iters_contact else self.iters_body
        state: dict = {}
        x = adam(loss_grad, x0, lr, first, clamp, state)
        if self.iters_contact:
            aa, betas, log_s, dtxy = unpack(x)
            out, _ = self._forward(aa, betas, hand_local)
            spread = _depth_spread(out, t_w3, w3_ok)
            reach = float(np.clip(self.reach_per_spread * spread, self.contact_reach_min, self.contact_reach))
            seen = {sd: (np.nan_to_num(hands[sd][0]), hand_conf[sd]) for sd in ("left", "right")}
            contact.update(self._contacts(out, betas, np.exp(log_s), txy0 + scale_px * dtxy.T, seen, reach))
            x = adam(loss_grad, x, lr, self.iters_contact, clamp, state)
        aa, betas, log_s, dtxy = unpack(x)
        poses = np.zeros((T, NUM_JOINTS, 3), np.float32)
        poses[:, UPPER_IDX] = aa.transpose(2, 1, 0)
        return poses, betas.copy(), (float(np.exp(log_s)), txy0 + scale_px * dtxy.T)

    def _contacts(self, out: dict, betas: np.ndarray, s: float, txy: np.ndarray, seen: dict, reach: float) -> dict:
        """Per hand, the frames of the skin term, their weights and which of them are touches.
        A touch: the hand is found and its landmarks overlap the skin's image (within 1.5 cm of
        a projected skin sample) while the fit so far has it within ``reach`` of the skin, or
        inside it; weight the square root of the hand's confidence (``seen``: side -> pixel
        landmarks and confidence). Every other frame where the fit has the hand inside the skin
        or within 2 cm of it is guarded, with weight 1: no hand goes through the face or chest,
        seen or not. Each entry's last item is how far off the skin its frames keep the hand's
        nearest point: ``contact_gap``, or ``unseen_gap`` for a hand never found (guarded
        within ``unseen_gap`` + 2 cm)."""
        surf, nrm = self._skin_at(out, betas)
        uv = np.stack([s * surf[..., 0], -s * surf[..., 1]], -1) + txy[:, None]
        T = surf.shape[0]
        found = {}
        for side in ("left", "right"):
            if f"{side}_hand" not in out:
                continue
            gap = Skin.gap(_hand_at(out, side, np.arange(T)), surf, nrm)
            weight = np.zeros(T)
            obs2, conf = seen.get(side, (None, np.zeros(T)))
            sure = conf > 0
            if sure.any():
                frames = np.flatnonzero(sure)
                over = np.zeros(T, bool)
                over[sure] = nearest_sq(obs2[frames], uv[frames]).min((1, 2)) < (0.015 * s) ** 2
                touch = over & (gap < reach)
                weight[touch] = np.sqrt(conf[touch])
                # a hand lost for a few frames (up to MAX_GAP) between two touching ones still
                # touches: it keeps the weaker of the two weights
                for a, b in runs(~sure):
                    if a > 0 and b < T and b - a <= MAX_GAP and weight[a - 1] > 0 and weight[b] > 0:
                        weight[a:b] = min(weight[a - 1], weight[b])
            touching = weight > 0
            near_skin = gap < (0.02 if sure.any() else self.unseen_gap + 0.02)
            weight[~touching & near_skin] = 1.0
            frames = np.flatnonzero(weight > 0)
            if not len(frames):
                continue
            # the skin the hand can reach in the last steps lies near where it is now:
            # the samples nearest to any of its points (a tenth of the cost of all)
            d3 = nearest_sq(_hand_at(out, side, frames), surf[frames]).min(1)
            keep = min(96, d3.shape[1])
            near = np.argpartition(d3, keep - 1, axis=1)[:, :keep]
            clear = self.contact_gap if sure.any() else self.unseen_gap
            found[side] = (frames, weight[frames], near, touching[frames], clear)
        return found

    def _hold_weights(self, hand_conf: dict, hands: dict) -> tuple:
        """Per hand, the confidence-weighted temporal prior on its orientation between frames
        t-1 and t, as (weights, expected turns): where both frames' hands are sure
        (confidence over 0.5) the hand turns in the body frame as its palm shows (weight
        ``hold_rot_base``: a twist of the arm that the palm does not show is no motion);
        elsewhere it does not turn, the weight growing to ``hold_rot`` as the hand's
        confidence falls (a barely seen hand keeps its last good orientation). Both hands at
        once, in UPPER's order of the wrists (left, right): (2, T-1) and (3, 3, 2, T-1)."""
        weights, steps = [], []
        for side in ("left", "right"):
            conf = hand_conf[side]
            c_rot = np.minimum(conf[1:], conf[:-1])
            sure = c_rot > 0.5
            step = np.broadcast_to(np.eye(3), (len(c_rot), 3, 3)).copy()
            if sure.any():
                frame, _ = _palm_frame(np.nan_to_num(hands[side][1]))
                step[sure] = (frame[1:] @ np.swapaxes(frame[:-1], 1, 2))[sure]
            weights.append(np.where(sure, self.hold_rot_base, self.hold_rot * (1.0 - c_rot) ** 2))
            steps.append(step)
        return np.stack(weights), np.stack(steps).transpose(2, 3, 0, 1)

    def _hand_local(self, side: str, pose: np.ndarray, betas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """A hand's 21 points in its wrist frame for SMPL-X hand pose (T, 15, 3), as an affine
        function of the betas: (3, 21, T) at betas 0 and (3 * 21 * T, 10) per beta (the points
        raveled). Exact: the hand's chain is linear in the rest geometry, which is affine in
        the betas. Worked out once per distinct pose (a hand never found is one). Given
        ``betas``, the points at them and None for the directions (nothing to fit)."""
        T = len(pose)
        poses, at = np.unique(pose.reshape(T, -1), axis=0, return_inverse=True)
        rot = R.np_axis_angle_to_matrix(_smplx_to_mp_hand(poses).reshape(-1, 3)).reshape(len(poses), 5, 3, 3, 3)
        rot = np.ascontiguousarray(rot.transpose(3, 4, 1, 2, 0))
        at = at.reshape(-1)
        base = K.hand_chain(rot, **self._hand_rest(side, np.zeros(10) if betas is None else betas))[0]
        if betas is not None:
            return np.ascontiguousarray(base[..., at]), None
        dirs = np.stack([K.hand_chain(rot, **self._hand_rest(side, np.eye(10)[k]))[0] - base for k in range(10)], -1)
        return np.ascontiguousarray(base[..., at]), np.ascontiguousarray(dirs[:, :, at]).reshape(-1, 10)

    def _forward(self, aa: np.ndarray, betas: np.ndarray, hand_local: dict) -> tuple[dict, tuple]:
        """Upper-body FK (pelvis fixed at the origin), components first: UPPER's rotation
        vectors (3, 13, T) -> their global rotations (3, 3, 13, T) and positions (3, 13, T),
        the arm joints, the head sites and the points of the hands in ``hand_local`` (side ->
        ``_hand_local``), (3, P, T); and the cache for ``_forward_grad``."""
        if not hasattr(self, "_fk"):
            # the rest geometry FK reads, affine in the betas: each UPPER joint's offset from its
            # parent, the pelvis, and the head sites' offsets from the head
            jt, jd = self.j_template, self.j_dirs
            st, sd = self.s_template[self.head_sites], self.s_dirs[self.head_sites]
            self._fk = ((jt[UPPER_IDX] - jt[_UPPER_PARENT_IDX]).T, (jd[UPPER_IDX] - jd[_UPPER_PARENT_IDX]).transpose(1, 0, 2),
                        jt[0], jd[0], (st - jt[J["head"]]).T, (sd - jd[J["head"]]).transpose(1, 0, 2))
        ot, od, pt, pd, ht, hd = self._fk
        rot, rot_cache = K.rodrigues(aa)
        offsets = ot + od @ betas
        glob, pos = K.body_chain(rot, offsets, pt + pd @ betas, _LEVELS)
        k = _UPPER_AT
        out = {"arm": pos[:, k["left_shoulder"]:k["right_wrist"] + 1], "pos": pos, "glob": glob}
        h = k["head"]
        out["head"] = K.moved(pos[:, h], glob[:, :, h], ht + hd @ betas)
        local = {}
        for side, (base, dirs) in hand_local.items():
            w = k[f"{side}_wrist"]
            local[side] = base if dirs is None else base + (dirs @ betas).reshape(base.shape)
            out[f"{side}_hand"] = K.moved(pos[:, w], glob[:, :, w], local[side])
        return out, (rot_cache, local, {side: dirs for side, (_, dirs) in hand_local.items()})

    def _forward_grad(self, out: dict, cache: tuple, betas: np.ndarray, d_pos: np.ndarray, d_glob: np.ndarray,
                      d_head: np.ndarray, d_hands: dict) -> tuple[np.ndarray, np.ndarray]:
        """The gradients of the rotation vectors (3, 13, T) and the betas (10,) from those of
        ``_forward``'s outputs: positions, global rotations (both consumed), head sites and
        hand points (side -> (3, 21, T))."""
        ot, od, pt, pd, ht, hd = self._fk
        rot_cache, local, dirs = cache
        k = _UPPER_AT
        glob = out["glob"]
        h = k["head"]
        d_o, d_f, d_l = K.moved_grad(glob[:, :, h], ht + hd @ betas, d_head)
        d_pos[:, h] += d_o
        d_glob[:, :, h] += d_f
        d_betas = d_l.ravel() @ hd.reshape(-1, 10)
        for side, d in d_hands.items():
            w = k[f"{side}_wrist"]
            d_o, d_f, d_l = K.moved_grad(glob[:, :, w], local[side], d)
            d_pos[:, w] += d_o
            d_glob[:, :, w] += d_f
            d_betas += d_l.ravel() @ dirs[side]
        d_rot, d_off, d_root = K.body_chain_grad(glob, out["pos"], _UPPER_PARENT_AT, _UPPER_BELOW, d_glob, d_pos)
        d_betas += d_off.ravel() @ od.reshape(-1, 10) + d_root @ pd
        return K.rodrigues_grad(rot_cache, d_rot), d_betas

    def _initial_pose(self, w3, hands, found, joints) -> np.ndarray:
        """Closed-form start: shoulders and elbows aim the rest bones at the landmarks,
        wrists turn the rest palm onto the seen palm."""
        T = len(w3)
        poses = np.zeros((T, NUM_JOINTS, 3))
        for k, side in enumerate(("left", "right")):
            sh, el, wr = J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"]
            o_sh, o_el, o_wr = w3[:, k], w3[:, 2 + k], w3[:, 4 + k]
            r_sh = _swing(np.broadcast_to(joints[el] - joints[sh], (T, 3)), o_el - o_sh)
            fore = np.einsum("tij,j->ti", r_sh, joints[wr] - joints[el])
            r_el_g = _swing(fore, o_wr - o_el) @ r_sh
            r_el = np.swapaxes(r_sh, 1, 2) @ r_el_g
            poses[:, sh] = R.np_quaternion_to_axis_angle(R.np_matrix_to_quaternion(r_sh))
            poses[:, el] = R.np_quaternion_to_axis_angle(R.np_matrix_to_quaternion(r_el))
            if found[side].any():
                f_m, _ = _palm_frame(self._rest_hand_points(side))
                f_o, _ = _palm_frame(hands[side][1])
                g = f_o @ f_m.T
                loc = np.swapaxes(r_el_g, 1, 2) @ g
                aa = R.np_quaternion_to_axis_angle(R.np_matrix_to_quaternion(np.nan_to_num(loc)))
                aa[~found[side]] = np.nan
                aa = _fill_nan(aa)
                poses[:, wr] = np.clip(aa, -2.5, 2.5)
        return poses

    def _reprojection(self, lm, poses, betas, cam, found):
        s, txy = cam
        T = lm.num_frames
        hand_local = {sd: self._hand_local(sd, poses[:, sl], betas)
                      for sd, sl in (("left", slice(25, 40)), ("right", slice(40, 55)))}
        out, _ = self._forward(poses[:, UPPER_IDX].transpose(2, 1, 0).astype(np.float64), np.asarray(betas, np.float64),
                               hand_local)
        pos = np.full((T, NUM_JOINTS, 3), np.nan, np.float32)
        pos[:, 0] = self.j_template[0]
        pos[:, UPPER_IDX] = out["pos"].T
        pts = np.concatenate([pos, out["left_hand"].T, out["right_hand"].T], 1)
        uv = np.stack([s * pts[..., 0], -s * pts[..., 1]], -1) + txy[:, None]
        errs = []
        arm_idx = [BODY_INDEX[n] for n in ARM_POINTS]
        d = np.linalg.norm(uv[:, ARM_JOINTS] - lm.pose[:, arm_idx, :2], axis=-1)
        errs.append(d[(lm.pose_conf[:, arm_idx] > 0.5) & np.isfinite(d)])
        for k, side in enumerate(("left", "right")):
            h = lm.left if side == "left" else lm.right
            d = np.linalg.norm(uv[:, NUM_JOINTS + 21 * k:NUM_JOINTS + 21 * (k + 1)] - h[..., :2], axis=-1)
            errs.append(d[found[side]].reshape(-1))
        allerr = np.concatenate(errs)
        return uv, float(allerr.mean()) if len(allerr) else float("nan")


# ---------------------------------------------------------------------------- helpers
# A hand the landmarks show shut (middle, ring and pinky curled over CLOSED degrees on average,
# fully past CLOSED + CLOSED_RAMP) is fitted to its landmarks' fingers rebuilt partly with the
# model's bone lengths (``CLOSED_SHARE`` of the way): Holistic's fist squeezes the finger bones, so
# matching its points alone leaves the fit's middle, ring and pinky 18-34 degrees more curled
# than the landmarks on the shared .pose file (8-20 at this share). On synthesized hands, whose
# landmarks have the signer's own bones, it costs finger error: 6.43 -> 6.47 degrees at this
# share, 6.62 all the way (``benchmarks.run --suite contact``).
CLOSED, CLOSED_RAMP, CLOSED_SHARE = 135.0, 30.0, 0.65


def _closed_to_model(points: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(T, 21, 3) hand landmarks in the model's palm frame and scale -> the same, each closed
    hand's fingers moved toward themselves rebuilt with the model's bone lengths (``rest``: the
    model's (21, 3) points) along the landmarks' bone directions, from each finger's first point."""
    curl = finger_turns(points)[:, 2:].sum(-1).mean(-1)
    share = CLOSED_SHARE * np.clip((curl - CLOSED) / CLOSED_RAMP, 0.0, 1.0)
    if not share.any():
        return points
    rebuilt = points.copy()
    for i in range(5):
        chain = [1 + 4 * i + k for k in range(4)]
        for a, b in zip(chain[:-1], chain[1:]):
            d = points[:, b] - points[:, a]
            d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
            rebuilt[:, b] = rebuilt[:, a] + d * np.linalg.norm(rest[b] - rest[a])
    return points + share[:, None, None] * (rebuilt - points)


def _flex_sign(side: str) -> float:
    """Sign of the z axis-angle component that curls the fingers toward the palm."""
    return -1.0 if side == "left" else 1.0


# ``_finger_prior``'s weights on each joint's squared axis-angle components (MP finger order,
# joint, axis): 0.01 on all; the thumb's MCP and IP 0.5 (their part of the hinge term, whose
# square along the hinge is taken off again); the other fingers' joints 2-3 0.5 on their
# twist and abduction axes; their knuckles 0.2 on twist
_FINGER_W = np.full((5, 3, 3), 0.01)
_FINGER_W[0, 1:] += 0.5
_FINGER_W[1:, 1:, :2] += 0.5
_FINGER_W[1:, 0, 0] += 0.2
_FINGER_W = _FINGER_W.transpose(2, 0, 1)[..., None]               # components first, as the fit's unknowns
_FLEX_MAX = np.array(FLEX_MAX)[:, None]


def _finger_prior(aa: np.ndarray, flex: float, thumb_hinge: np.ndarray) -> tuple[float, np.ndarray]:
    """aa (3, 5 fingers MP order, 3 joints, n frames): joint limits and a weak pose prior,
    and its gradient.

    Bones 2 and 3 only flex (twist and sideways bend are penalized; the thumb's about its
    hinge axis), no finger bends backwards more than ~0.35 rad, and no joint flexes past
    its ``FLEX_MAX``. The quadratic terms are one weighted sum (``_FINGER_W``): the thumb's
    off-hinge part ||t - (t.h) h||^2 is ||t||^2 - (t.h)^2 for the unit hinge h."""
    n = aa.shape[-1]
    along = np.einsum("c,cjn->jn", thumb_hinge, aa[:, 0, 1:])               # (2, n)
    z = aa[2, 1:] * flex                                           # the thumb's axes differ: not limited here
    back, past = np.maximum(-z - 0.35, 0.0), np.maximum(z - _FLEX_MAX, 0.0)
    sq = aa * aa * _FINGER_W
    loss = 50 * float((back * back + past * past).sum()) + float(sq.sum()) - 0.5 * float(along.ravel() @ along.ravel())
    grad = 2 * _FINGER_W * aa
    grad[:, 0, 1:] -= thumb_hinge[:, None, None] * along
    grad[2, 1:] += 100 * flex * (past - back)
    return loss / n, grad / n


def _hand_at(out: dict, side: str, frames: np.ndarray) -> np.ndarray:
    """(n, 21, 3) a hand's points in ``frames``, frame-major, from ``Fitter._forward``'s output."""
    return out[f"{side}_hand"][..., frames].T


def _depth_spread(out: dict, t_w3: np.ndarray, w3_ok: np.ndarray) -> float:
    """How far (metres, RMS) the depth landmarks of the elbows and wrists lie from a fit
    that keeps its bones' lengths and matches the image: the clip's own measure of how far
    its depth can be trusted (about 1 cm for exact depth with 5 mm noise, 2-9 cm for the
    contact benchmark's MediaPipe-like depth errors)."""
    rel = out["arm"] - out["arm"][:, :2].mean(1, keepdims=True)
    ok = w3_ok[:, 2:6]
    dz = (rel[2, 2:6].T - t_w3[:, 2:6, 2]) * ok
    return float(np.sqrt((dz * dz).sum() / max(ok.sum(), 1)))


def _hold_loss(glob: np.ndarray, hold: tuple) -> tuple[float, np.ndarray]:
    """The orientation prior of ``Fitter._hold_weights`` and its gradient with respect to
    the wrists' global rotations (3, 3, 2, T): each hand's orientation G in the body frame
    against the expected turn S_t, as the squared chordal distance ||G_t - S_t G_t-1||^2 =
    4 (1 - cos angle) (smooth, with no wrap at 180 degrees)."""
    w_rot, step = hold
    g = glob[:, :, _UPPER_AT["left_wrist"]:_UPPER_AT["right_wrist"] + 1]     # (3, 3, 2, T)
    grad = np.zeros_like(g)
    T = g.shape[-1]
    if T < 2:
        return 0.0, grad
    diff = g[..., 1:] - K.mm(step, g[..., :-1])
    loss = float((diff * diff).sum((0, 1)).ravel() @ w_rot.ravel()) / T
    d = 2 / T * w_rot * diff
    grad[..., 1:] += d
    grad[..., :-1] -= K.mtm(step, d)
    return loss, grad


# ``_body_prior``'s weight on each UPPER joint's squared rotation: spine, neck and head 2,
# collars 5, and 0.01 on every joint
_PRIOR_W = np.array([0.01 + (2.0 if n in ("spine1", "spine2", "spine3", "neck", "head") else 5.0
                             if n.endswith("collar") else 0.0) for n in UPPER])[:, None]


def _body_prior(aa: np.ndarray) -> tuple[float, np.ndarray]:
    """Spine, neck and collars stay near rest; elbows bend one way; wrists within range: the
    loss and its gradient for the rotation vectors (3, 13, T). The limits are worked out
    only when some rotation could reach them (most steps none does)."""
    n = aa.shape[-1]
    k = _UPPER_AT
    loss = float((aa * aa * _PRIOR_W).sum()) / n
    grad = 2 / n * _PRIOR_W * aa
    wrists = slice(k["left_wrist"], k["right_wrist"] + 1)
    elbows = slice(k["left_elbow"], k["right_elbow"] + 1)
    if np.abs(aa[:, wrists]).max() > 1.3:
        over = np.maximum(np.abs(aa[:, wrists]) - 1.3, 0.0)
        loss += 10 * float(over.ravel() @ over.ravel()) / n
        grad[:, wrists] += 20 / n * over * np.sign(aa[:, wrists])
    if np.abs(aa[:, elbows]).max() > 2.6 / 3 ** 0.5:         # no component that large: every norm under 2.6
        bend = np.sqrt((aa[:, elbows] ** 2).sum(0))
        past = np.maximum(bend - 2.6, 0.0)
        loss += 10 * float(past.ravel() @ past.ravel()) / n
        grad[:, elbows] += 20 / n * past / np.maximum(bend, 1e-12) * aa[:, elbows]
    return loss, grad


def _mp_to_smplx_hand(aa: np.ndarray) -> np.ndarray:
    """(n, 5 MP fingers, 3, 3) -> (n, 15, 3) in SMPL-X hand order."""
    return np.concatenate([aa[:, FINGERS_MP.index(f)] for f in SMPLX_FINGERS], 1)


def _smplx_to_mp_hand(pose: np.ndarray) -> np.ndarray:
    p = np.asarray(pose).reshape(len(pose), 5, 3, 3)
    return np.stack([p[:, SMPLX_FINGERS.index(f)] for f in FINGERS_MP], 1)


def jaw_from_face(face: np.ndarray) -> np.ndarray:
    """(T, 468, 3) face landmarks -> (T, 3) jaw axis-angle: the inner-lip gap (13-14) over
    the outer eye corners' distance (33-263, about 9 cm) gives the opening; the jaw turns
    about x with its pivot ~9 cm behind the lips. Frames without a face hold neighbours."""
    gap = np.linalg.norm(face[:, 13, :2] - face[:, 14, :2], axis=-1)
    eyes = np.linalg.norm(face[:, 33, :2] - face[:, 263, :2], axis=-1)
    with np.errstate(all="ignore"):
        opening = 0.09 * gap / eyes
    angle = np.arctan2(opening, 0.09)
    angle = _fill_nan(np.where(np.isfinite(angle), angle, np.nan)[:, None])[:, 0]
    out = np.zeros((len(face), 3), np.float32)
    out[:, 0] = np.clip(angle, 0.0, 0.5)
    return out
