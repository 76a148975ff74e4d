"""The arm solver: one arm's inverse kinematics on a signer's rig, its torso held still.

An analytic two-bone solve (the elbow swung about the shoulder-wrist line to where the
wrist bends least, soft wrist limits, the wrist goal corrected until the contact point
lands), then damped Gauss-Newton where a path misses its contact or jumps between frames,
and the clearance turn: the hand turned about its contact point until its fingertips,
palm and wrist leave the skin. Arms of many signs stack into one batch (see ``batch``).
Also the hand-frame convention (``hand_rotation``) every path is written in. numpy only.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from ...body.rig import Rig
from ...body.skeleton import JOINT_INDEX as J
from .maths import dot, euler_xzy, jumps, mv, rot_about, segment_starts, soft_limit, unit, xzy_angles
from .tables import BACK, DOWN, FRONT, SX

# Wrist limits (rad) as twist about the forearm (x), then flexion (z), then deviation (y):
# R = Rx(twist) Rz(flexion) Ry(deviation). Euler angles keep each limit on its own axis
# (a rotation vector would wrap at pi and flip the hand between frames).
WRIST_ORDER = "XZY"
WRIST_LIMITS = np.array([1.5, 1.35, 0.6])
ELBOW_MAX = 2.6
SWINGS = tuple(np.radians([0.0, -35.0, 35.0, -70.0, 70.0]))
# Joint limits that a synthesized motion must satisfy (rotation angle of the local axis-angle).
JOINT_LIMITS = {"shoulder": 2.9, "elbow": ELBOW_MAX + 0.05, "wrist": float(R.np_norm(WRIST_LIMITS)),
                "collar": 0.5, "spine": 0.4, "finger": 1.9}
# The clearance turn (see ``Arm.clear``): how deep (metres) a hand point may sink behind
# the skin (it is soft and the contact point itself lies on it), the weight of the depth
# against the contact, and the Gauss-Newton steps it takes.
CLEAR_MARGIN = 0.004
CLEAR_WEIGHT, CLEAR_STEPS = 3.0, 8
CLEAR_CONTACT = 3.0
SETTLED = 1e-4              # rad: a Gauss-Newton row whose step is smaller has converged


def hand_rotation(side: str, fingers: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """Global wrist rotation (..., 3, 3) that points the fingers and turns the palm as asked.

    At rest both hands have the palm toward -Y; the left hand's fingers point +X and the
    right hand's -X. ``palm`` wins; ``fingers`` is made perpendicular to it.
    """
    p = unit(palm)
    d = unit(fingers - (fingers * p).sum(-1, keepdims=True) * p)
    if side == "left":
        cols = (d, -p, R.np_cross(d, -p))
    else:
        cols = (-d, -p, R.np_cross(d, p))
    return np.stack(cols, -1)


class Arm:
    """Analytic IK for one arm of one rig, its torso held still.

    An arm's measures (shoulder position, bone vectors, collar rotation...) are one set
    that every row shares, or, for an arm made by ``Arm.stack``, one set per row: the data
    factory joins the arms of a whole shard of signs and solves them in one batch. A solve
    takes ``segments``, the number of rows of each path in the batch (one path by default),
    and handles each path as if it were solved alone.
    """

    FALLBACK_STEPS = 4   # Gauss-Newton steps for a frame re-solved from its predecessor (a warm start)
    _MEASURES = ("g_collar", "s_pos", "a1", "a2", "l1", "l2", "hinge", "rest_frame", "pole")

    def __init__(self, rig: Rig, side: str, torso_glob: np.ndarray, torso_pos: np.ndarray):
        self.side, self.stacked = side, False
        rest = rig.rest_joints
        sh, el, wr = (J[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist"))
        self.g_collar = torso_glob[J[f"{side}_collar"]]
        self.s_pos = torso_pos[sh]
        self.a1 = rest[el] - rest[sh]
        self.a2 = rest[wr] - rest[el]
        self.l1, self.l2 = R.np_norm(self.a1, keepdims=True), R.np_norm(self.a2, keepdims=True)
        a1h = unit(self.a1)
        self.hinge = unit(R.np_cross(a1h, FRONT))           # elbow flexion axis at rest
        self.rest_frame = np.stack([a1h, self.hinge, R.np_cross(a1h, self.hinge)], -1)
        out = np.array([SX[side], 0.0, 0.0])
        self.pole = unit(DOWN + 0.45 * out + 0.25 * BACK)  # where a relaxed elbow points
        self.swing = 0.0                                    # the last solve's elbow swing

    @classmethod
    def stack(cls, arms: list["Arm"], rows) -> "Arm":
        """One arm whose measures repeat those of each of ``arms`` for its number of ``rows``."""
        counts = np.asarray(rows, int)
        return cls._from({name: np.repeat(np.stack([getattr(a, name) for a in arms]), counts, axis=0)
                          for name in cls._MEASURES})

    @classmethod
    def _from(cls, measures: dict) -> "Arm":
        arm = cls.__new__(cls)
        arm.side, arm.stacked, arm.swing = None, True, 0.0
        arm.__dict__.update(measures)
        return arm

    def rows(self, index) -> "Arm":
        """The arm of some rows (an index array) of a stacked arm; an unstacked arm is its own."""
        if not self.stacked:
            return self
        return self._from({name: getattr(self, name)[index] for name in self._MEASURES})

    @property
    def d_min(self) -> np.ndarray:
        """The shortest shoulder-wrist distance that the elbow's range allows."""
        return np.sqrt(self.l1 ** 2 + self.l2 ** 2 - 2 * self.l1 * self.l2 * np.cos(np.pi - ELBOW_MAX))

    def solve(self, contact: np.ndarray, hand_rot: np.ndarray, offset: np.ndarray,
              iterations: int = 3, refine: bool = True, segments=None):
        """Local shoulder, elbow and wrist matrices (T, 3, 3) x 3 and the contact point reached.

        ``contact`` (T, 3): where the hand's contact point must go; ``hand_rot`` (T, 3, 3):
        the wished global hand rotation; ``offset`` (T, 3): contact point in the wrist frame.
        ``segments``: rows per path (default: all rows are one path). The elbow swing each
        path chose is left in ``self.swing`` (one number, or one per path).
        """
        n = len(contact)
        segments = np.asarray([n] if segments is None else segments, int)
        starts = segment_starts(segments)
        goal = contact - mv(hand_rot, offset)
        # Swing the elbow about the shoulder-wrist line (one angle per path) to where the
        # wrist needs the least bending, preferring the relaxed hanging elbow.
        k = len(SWINGS)
        tiled = self.rows(np.tile(np.arange(n), k))
        swings = np.repeat(np.array(SWINGS), n)[:, None]
        raw = tiled.solve_once(np.tile(goal, (k, 1)), np.tile(hand_rot, (k, 1, 1)), np.tile(offset, (k, 1)),
                               swings)[4].reshape(k, n, 3)
        over = (np.maximum(np.abs(raw) / WRIST_LIMITS - 0.7, 0.0) ** 2).sum(-1)        # (k, n)
        costs = np.add.reduceat(over, starts, axis=1) / segments + 0.3 * np.array(SWINGS)[:, None] ** 2
        chosen = np.array(SWINGS)[np.argmin(costs, 0)]                                   # (paths,)
        self.swing = float(chosen[0]) if len(segments) == 1 else chosen
        swing = np.repeat(chosen, segments)[:, None]
        d_min, d_max = self.d_min * 1.02, 0.98 * (self.l1 + self.l2)
        for _ in range(iterations):
            sh, el, wr, reached, _ = self.solve_once(goal, hand_rot, offset, swing)
            # move the wrist goal by the miss, but keep it inside the arm's reach (a goal that
            # cannot be reached must not drift, or neighbouring frames would part ways)
            goal = goal + 0.8 * (contact - reached)
            v = goal - self.s_pos
            dist = R.np_norm(v, axis=-1, keepdims=True)
            goal = self.s_pos + v / np.maximum(dist, 1e-9) * np.clip(dist, d_min, d_max)
        sh, el, wr, reached, _ = self.solve_once(goal, hand_rot, offset, swing)
        if not refine:
            return sh, el, wr, reached
        # refine the paths that miss their contact or jump between frames
        miss = np.maximum.reduceat(R.np_norm(contact - reached, axis=-1), starts)
        bad = (miss > 0.003) | jumps(wr, starts) | jumps(sh, starts)
        if bad.any():
            rows = np.concatenate([np.arange(s, s + m) for s, m, b in zip(starts, segments, bad) if b])
            sub = self.rows(rows)
            out = sub._refine(contact[rows], hand_rot[rows], offset[rows], sh[rows], el[rows], wr[rows],
                              segments[bad])
            for full, part in zip((sh, el, wr, reached), out):
                full[rows] = part
        return sh, el, wr, reached

    def chain(self, x: np.ndarray, offset: np.ndarray):
        """Shoulder rotvec (3), elbow angle (1), wrist angles (3) per row -> matrices, contact."""
        l_sh, l_el, l_wr, g_wr, _, _, point = self._links(x, offset)
        return l_sh, l_el, l_wr, g_wr, point

    def _links(self, x: np.ndarray, offset: np.ndarray):
        """``chain`` with the elbow and wrist positions: local shoulder, elbow and wrist
        matrices, the global wrist rotation, elbow, wrist and contact point per row."""
        l_sh = R.np_axis_angle_to_matrix(x[:, :3])
        l_el = R.np_axis_angle_to_matrix(self.hinge * x[:, 3:4])
        l_wr = euler_xzy(x[:, 4:])
        g_sh = self.g_collar @ l_sh
        g_el = g_sh @ l_el
        g_wr = g_el @ l_wr
        elbow = self.s_pos + mv(g_sh, self.a1)
        wrist = elbow + mv(g_el, self.a2)
        return l_sh, l_el, l_wr, g_wr, elbow, wrist, wrist + mv(g_wr, offset)

    def _residual(self, x, x0, contact, hand_rot, offset, elbow0, stay=0.005, links=None):
        """Per-row residuals of the refinement (see ``_refine``); ``links``: ``_links(x)``
        when the caller has it."""
        _, _, _, g_wr, elbow, _, point = self._links(x, offset) if links is None else links
        lim = 0.9 * WRIST_LIMITS
        return np.concatenate([
            point - contact,                                                  # metres
            0.02 * (g_wr - hand_rot).reshape(len(x), 9),                      # wished hand rotation
            np.maximum(np.abs(x[:, 4:]) - lim, 0.0),                          # wrist range
            np.maximum(x[:, 3:4] - ELBOW_MAX, 0.0) + np.maximum(0.05 - x[:, 3:4], 0.0),
            np.maximum(R.np_norm(x[:, :3], axis=1, keepdims=True) - 2.7, 0.0),
            0.2 * (elbow - elbow0),                                           # keep the analytic elbow swing
            stay * (x - x0),                                                  # stay near the start pose
        ], 1)

    def _refine(self, contact, hand_rot, offset, sh, el, wr, segments, steps: int = 6):
        """Damped Gauss-Newton from the analytic solve: the contact point first, then the wish.

        Frames are solved together; a frame that lands in another solution than its
        predecessor (a jump of the arm between frames) is solved again from the
        predecessor's pose, so the arm never flips between neighbouring frames. The paths
        of a batch go through their frames side by side.
        """
        x = self.params(sh, el, wr)
        elbow0 = self.s_pos + mv(self.g_collar @ sh, self.a1)
        args = (contact, hand_rot, offset, elbow0)
        x = self._gauss_newton(x, x.copy(), args, steps)
        starts, segments = segment_starts(segments), np.asarray(segments)
        for t in range(1, int(segments.max())):
            live = segments > t
            cur = starts[live] + t
            cur = cur[np.abs(x[cur] - x[cur - 1]).max(1) > 0.25]
            if len(cur):                                        # hold on to the previous frame
                sub = self.rows(cur)
                x[cur] = sub._gauss_newton(x[cur - 1].copy(), x[cur - 1].copy(),
                                           tuple(a[cur] for a in args) + (0.1,), self.FALLBACK_STEPS)
        l_sh, l_el, l_wr, _, point = self.chain(x, offset)
        return l_sh, l_el, l_wr, point

    def params(self, sh, el, wr) -> np.ndarray:
        """Local shoulder, elbow and wrist matrices -> the parameters of ``chain`` (rows, 7)."""
        aa = R.np_quaternion_to_axis_angle(R.np_matrix_to_quaternion(np.stack([sh, el], 1)))
        return np.concatenate([aa[:, 0], dot(aa[:, 1], self.hinge), xzy_angles(wr)], 1)

    def _residual_clear(self, x, x0, contact, hand_rot, offset, elbow0, points, plane_v, plane_n):
        """``_residual`` plus the depth of the hand's ``points`` (rows, P, 3 in the wrist frame)
        behind their skin planes (a vertex and its outward normal each), beyond CLEAR_MARGIN."""
        links = self._links(x, offset)
        base = self._residual(x, x0, contact, hand_rot, offset, elbow0, links=links)
        base[:, :3] *= CLEAR_CONTACT       # the touch outranks the clearance
        g_wr, wrist = links[3], links[5]
        world = wrist[:, None] + np.einsum("tij,tpj->tpi", g_wr, points)
        depth = ((plane_v - world) * plane_n).sum(-1)
        return np.concatenate([base, CLEAR_WEIGHT * np.maximum(depth - CLEAR_MARGIN, 0.0)], 1)

    def clear(self, contact, hand_rot, offset, points, sh, el, wr, planes, steps: int = CLEAR_STEPS):
        """Turn solved arms (local matrices per row) so that the hand's ``points`` leave the
        skin ``planes`` (vertex, normal per point and row) while the contact point stays:
        damped Gauss-Newton on ``_residual_clear`` from the solve. Returns the arm
        parameters (rows, 7) before and after (see ``chain``)."""
        x = self.params(sh, el, wr)
        elbow0 = self.s_pos + mv(self.g_collar @ sh, self.a1)
        args = (contact, hand_rot, offset, elbow0, points) + tuple(planes)
        return x, self._gauss_newton(x, x.copy(), args, steps, "_residual_clear")

    def _gauss_newton(self, x, x0, args, steps, residual: str = "_residual"):
        """Damped Gauss-Newton per row on the residual method named ``residual``. A row whose
        accepted step is below SETTLED has converged and takes no further steps."""
        eps = 1e-5
        x = np.array(x, float)
        damping = np.full(len(x), 1e-4)
        live = np.arange(len(x))          # rows still moving
        arm, a, a0 = self, args, x0
        tiled_rows = -1
        for _ in range(steps):
            n = len(live)
            if tiled_rows != n:           # the arm and arguments of the live rows, 8 copies (a probe each)
                tiled_rows = n
                probe_arm = arm.rows(np.tile(np.arange(n), 8))
                tiled = tuple(np.concatenate([v] * 8) if isinstance(v, np.ndarray) else v for v in a)
                x0_tiled = np.concatenate([a0] * 8)
            xl = x[live]
            probe = np.concatenate([xl[None], xl[None] + eps * np.eye(7)[:, None, :]]).reshape(8 * n, 7)
            allr = getattr(probe_arm, residual)(probe, x0_tiled, *tiled).reshape(8, n, -1)
            r = allr[0]
            jac = np.moveaxis((allr[1:] - r[None]) / eps, 0, -1)
            jtj = np.einsum("tri,trj->tij", jac, jac) + damping[live, None, None] * np.eye(7)
            step = np.linalg.solve(jtj, -np.einsum("tri,tr->ti", jac, r)[..., None])[..., 0]
            size = R.np_norm(step, axis=1, keepdims=True)
            trial = xl + step * np.minimum(1.0, 0.3 / np.maximum(size, 1e-12))
            better = (getattr(arm, residual)(trial, a0, *a) ** 2).sum(1) < (r ** 2).sum(1)
            x[live] = np.where(better[:, None], trial, xl)
            damping[live] = np.where(better, damping[live] * 0.3, damping[live] * 10.0)
            settled = better & (size[:, 0] < SETTLED)
            if settled.any():
                keep = np.flatnonzero(~settled)
                if not len(keep):
                    break
                live = live[keep]
                arm, a0 = arm.rows(keep), a0[keep]
                a = tuple(v[keep] if isinstance(v, np.ndarray) else v for v in a)
        return x

    def solve_once(self, wrist_goal, hand_rot, offset, swing=0.0):
        """One analytic solve; ``swing`` (a number or (T, 1)) turns the elbow about the
        shoulder-wrist line. Returns local shoulder, elbow, wrist, the contact point reached
        and the wrist angles asked for before the limits."""
        v = wrist_goal - self.s_pos
        dist = R.np_norm(v, axis=-1, keepdims=True)
        u = v / np.maximum(dist, 1e-9)
        l1, l2 = self.l1, self.l2
        d = np.clip(dist, self.d_min * 1.001, (l1 + l2) * 0.999)
        cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / (2 * l1 * d), -1.0, 1.0)
        pole = unit(self.pole - dot(u, self.pole) * u)
        if np.any(swing):
            pole = np.cos(swing) * pole + np.sin(swing) * R.np_cross(u, pole)
        elbow = self.s_pos + l1 * (cos_a * u + np.sqrt(1 - cos_a ** 2) * pole)
        u1 = unit(elbow - self.s_pos)
        u2 = unit(self.s_pos + u * d - elbow)
        n = unit(R.np_cross(pole, u))   # the elbow's hinge axis: normal to the arm's plane, never ill-posed
        target_frame = np.stack([u1, n, R.np_cross(u1, n)], -1)
        g_sh = target_frame @ np.swapaxes(self.rest_frame, -1, -2)
        a2l = np.einsum("...ji,...j->...i", g_sh, u2)      # forearm direction in the arm's rest frame
        a2h = unit(self.a2)
        theta = np.arctan2(dot(R.np_cross(a2h, a2l), self.hinge)[..., 0], dot(a2l, a2h)[..., 0])
        local_el = rot_about(np.broadcast_to(self.hinge, a2l.shape), theta)
        g_el = g_sh @ local_el
        local_wr = np.swapaxes(g_el, -1, -2) @ hand_rot
        raw = xzy_angles(local_wr)
        local_wr = euler_xzy(soft_limit(raw, WRIST_LIMITS))
        g_wr = g_el @ local_wr
        wrist = self.s_pos + mv(g_sh, self.a1) + mv(g_el, self.a2)
        reached = wrist + mv(g_wr, offset)
        local_sh = np.swapaxes(self.g_collar, -1, -2) @ g_sh
        return local_sh, local_el, local_wr, reached, raw
