"""One sign planned and assembled: ``Synthesizer`` (the public entry point, compounds), and
``_Build``, which turns one phonology into solve requests and a timeline. numpy + torch
(the body model); never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from ...body.collide import BODY_PARTS, NEAR_SKIN, _vertex_normals
from ...body.model import Body
from ...body.rig import Rig, forward
from ...body.sites import SITE_NAMES
from ...body.skeleton import JOINT_INDEX as J
from ...body.skeleton import NUM_EXPRESSION, NUM_JOINTS, hand_joints
from ...motion.motion import Motion
from .. import handshapes as H
from ..hms import DIRECTIONS, region
from ..lexicon import Entry, Phonology
from .arm import CLEAR_MARGIN, WRIST_LIMITS, Arm, hand_rotation
from .batch import Clear, Solve, SolveOnce, drive
from .maths import ease, euler_xzy, mv, rot_about, smooth_noise, smooth_quaternions, unit, xzy_angles
from .phonology import changed_shape, check_phonology, contact_part, finger_state, signable
from .signer import Signer, Truth, dedup, direction_label, mirror_site, palm_label
from .tables import (BACK, DOWN, FPS, FRONT, HAND_REGIONS, LOCATIONS, MAX_MORPHEMES, MAX_SECONDS, ON_SURFACE,
                     OTHER, SIGN_TYPES, SX, SYMMETRIC_SITES, UP)

# Hand points kept out of the head and torso.
CLEAR_SITES = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip", "palm", "back_of_hand")
CLEAR_LIMIT = 0.008         # deeper than this somewhere in a sign: the arm turns the hand out


# ------------------------------------------------------------------------ planning

class Synthesizer:
    """Signs lexicon entries on one body (the mannequin or a user's SMPL-X model)."""

    def __init__(self, body: Body | None = None):
        self.body = body if body is not None else Body.load()
        H.left_hand_pose("lax")  # solve (or read) the handshape table once
        self._cache: dict = {}

    # -- public -----------------------------------------------------------------
    def synthesize(self, entry: Entry, signer: Signer | int = 0) -> tuple[Motion, Truth]:
        return self.synthesize_many([(entry, signer)])[0]

    def synthesize_many(self, items) -> list[tuple[Motion, Truth]]:
        """Sign many (entry, signer) pairs at once; the same results as one by one.

        Each sign is a generator that stops at its arm solves; all signs advance in step
        and each round's solves run as one batch, which takes the numpy call overhead
        out of the per-sign cost.
        """
        if len(self._cache) > 20000:
            self._cache.clear()
        signs = []
        for entry, signer in items:
            signer = signer if isinstance(signer, Signer) else Signer.sample(int(signer))
            check_phonology(entry.phonology)
            signs.append((self._sign(entry, signer), signer))
        results = drive([g for g, _ in signs])
        return [(motion.mirror(), truth.mirrored()) if signer.left_handed else (motion, truth)
                for (motion, truth), (_, signer) in zip(results, signs)]

    def _sign(self, entry: Entry, signer: Signer):
        later = [m for m in entry.morphemes[1:MAX_MORPHEMES] if signable(m)]
        if later:
            return (yield from self._compound(entry, [entry.phonology] + later, signer))
        rng = np.random.default_rng([signer.seed, stable_hash(entry.entry_id)])
        return (yield from _Build(self.body, entry, entry.phonology, signer, rng, self._cache).steps())

    def _compound(self, entry: Entry, parts: list[Phonology], signer: Signer):
        """A compound sign: each morpheme signed in turn (its share of the duration), the
        hands going straight from one morpheme to the next, fitted into MAX_SECONDS."""
        from dataclasses import replace

        gap = 8   # frames of eased travel from one morpheme's last pose to the next one's first
        n = len(parts)
        fixed = 8 + 2 * round(0.44 * signer.tempo * FPS) + n * 5 + (n - 1) * gap   # rest, approach, settles...
        frames = min(entry.duration_ms / 1000 * signer.tempo * FPS / n, (MAX_SECONDS * FPS - fixed) / n)
        share = max(frames, 10) / (signer.tempo * FPS) * 1000   # ms of sign per morpheme
        pieces = []
        for k, ph in enumerate(parts):
            rng = np.random.default_rng([signer.seed, stable_hash(entry.entry_id), k])
            part = replace(entry, duration_ms=share, morphemes=(ph,))
            pieces.append((yield from _Build(self.body, part, ph, signer, rng, self._cache).steps()))
        motion, truth = pieces[0]
        motion = motion.cut(0, truth.sign_frames[1])          # up to the end of its sign (at rest)
        sign_end = truth.sign_frames[1]
        for m, t in pieces[1:]:
            start = max(0, t.sign_frames[0] - 5)              # from its settle (at rest)
            ends = Motion(np.stack([motion.poses[-1], m.poses[start]]), np.zeros((2, 3)),
                          np.zeros((2, NUM_EXPRESSION)), fps=FPS)
            travel = ends._sample(ease(np.arange(1, gap + 1) / (gap + 1)))
            offset = motion.num_frames + gap - start
            motion = motion.concat(travel.with_(betas=motion.betas)).concat(m.cut(start).with_(betas=motion.betas))
            sign_end = t.sign_frames[1] + offset
            truth.handshape["right"] = dedup(truth.handshape["right"] + t.handshape["right"])
            truth.strokes["right"] = truth.strokes["right"] + t.strokes.get("right", [])
        truth.sign_frames = (truth.sign_frames[0], min(sign_end, motion.num_frames))
        limit = int(MAX_SECONDS * FPS)
        if motion.num_frames > limit:   # too long: play it faster, frames mapped along
            scale = (limit - 1) / (motion.num_frames - 1)
            motion = motion._sample(np.arange(limit) / scale)
            truth.sign_frames = tuple(int(round(f * scale)) for f in truth.sign_frames)
            for tg in truth.targets.values():
                tg["frame"] = int(round(tg["frame"] * scale))
        return motion, truth


def stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


TORSO = ("spine1", "spine2", "spine3", "neck", "head")


class _Build:
    """One synthesis: the signer's body, the static torso, the plans and the timeline."""

    def __init__(self, body: Body, entry: Entry, ph: Phonology, signer: Signer, rng, cache: dict):
        self.body = body
        self.entry, self.ph, self.signer, self.rng = entry, ph, signer, rng
        self.cache = cache      # per body and posture: offsets and the rest frame
        self.fingers: dict = {}   # side -> (k, 15, 3) the moving hands' finger poses over the sign
        self.body_key = (signer.betas.tobytes(), signer.posture.tobytes())
        self.rig = Rig.from_body(body, signer.betas)
        self.kind, self.site = LOCATIONS[ph.minor_location]
        self.two = SIGN_TYPES[ph.sign_type]
        if self.kind in ("hand", "arm") and self.two in ("one", "symmetric"):
            self.two = "base_same"   # the other hand holds still to be touched
        if self.kind == "neutral" and ph.has_contact and self.two in ("base_same", "base_other"):
            self.kind, self.site = "hand", str(rng.choice(["n_palm", "n_back_of_hand", "n_index_side"]))
        self.rest = self._rest_pose()

    # -- poses ------------------------------------------------------------------
    def _rest_pose(self) -> np.ndarray:
        pose = np.zeros((NUM_JOINTS, 3))
        for name, lean in zip(TORSO, self.signer.posture):
            pose[J[name]] = (lean, 0.5 * lean, 0.0)
        pose[J["left_shoulder"]] = (0.0, 0.0, -1.2)
        pose[J["right_shoulder"]] = (0.0, 0.0, 1.2)
        pose[J["left_elbow"]] = (0.0, -0.3, 0.0)
        pose[J["right_elbow"]] = (0.0, 0.3, 0.0)
        for side in ("left", "right"):
            pose[list(hand_joints(side))] = H.hand_pose("lax", side)
        return pose

    @property
    def rest_frame(self):
        key = (self.body_key, "rest")
        if key not in self.cache:
            self.cache[key] = self._frame(self.rest)
        return self.cache[key]

    def _skin(self):
        """The head and torso skin of this signer at rest: vertices and outward normals."""
        key = (self.body_key, "surface")
        if key not in self.cache:
            body = self.body
            verts = self.rig.vertices(body, self.rest)
            normals = _vertex_normals(verts, body.faces)
            owner = body.model.lbs_weights.numpy().argmax(1)
            keep = np.isin(owner, [J[n] for part in BODY_PARTS.values() for n in part])
            self.cache[key] = (verts[keep], normals[keep])
        return self.cache[key]

    def _skin_tree(self):
        """A KD-tree over ``_skin()``'s vertices (nearest-vertex queries for clearance)."""
        key = (self.body_key, "surface tree")
        if key not in self.cache:
            from scipy.spatial import cKDTree

            self.cache[key] = cKDTree(self._skin()[0])
        return self.cache[key]

    def _hand_points(self, side: str, fingers: np.ndarray) -> np.ndarray:
        """The fingertips, palm, back of the hand and wrist (k, 8, 3) in the wrist frame for finger
        poses (k, 15, 3), by forward kinematics of the hand (points on a flexing finger move
        on arcs: interpolating them would cut through the palm)."""
        k = len(fingers)
        still = np.abs(fingers - fingers[0]).max() < 1e-9              # most signs keep one handshape
        key = (self.body_key, side, "hand points", fingers[0].tobytes())
        if still and key in self.cache:
            return np.broadcast_to(self.cache[key], (k, 8, 3))
        pose = np.repeat(self.rest[None], 1 if still else k, 0)
        pose[:, list(hand_joints(side))] = fingers[:1] if still else fingers
        glob, pos = forward(pose, self.rig.rest_joints)
        sites = self.rig.sites(glob, pos)[:, [self.rig.site(f"{side}_{n}") for n in CLEAR_SITES]]
        wr = J[f"{side}_wrist"]
        local = np.einsum("tpi,tij->tpj", sites - pos[:, wr, None], glob[:, wr])
        local = np.concatenate([local, np.zeros((len(local), 1, 3))], 1)     # and the wrist itself
        if still:
            self.cache[key] = local[0]
        return np.broadcast_to(local, (k, 8, 3))

    def _depths(self, points: np.ndarray):
        """How deep (metres, > 0 inside) points (..., 3) lie behind the head and torso skin,
        with the nearest skin vertex and its outward normal; points over 6 cm from the skin
        count as outside."""
        verts, normals = self._skin()
        flat = points.reshape(-1, 3)
        dist, idx = self._skin_tree().query(flat)
        v, n = verts[idx], normals[idx]
        depth = np.where(dist < NEAR_SKIN, ((v - flat) * n).sum(-1), -1.0)
        return depth.reshape(points.shape[:-1]), v.reshape(points.shape), n.reshape(points.shape)

    def _on_surface(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest head or torso skin point (and its outward normal) to ``point``."""
        verts, normals = self._skin()
        i = int(self._skin_tree().query(point)[1])
        return verts[i].copy(), normals[i].copy()

    def _frame(self, pose: np.ndarray):
        glob, pos = forward(pose[None], self.rig.rest_joints)
        return glob[0], pos[0], self.rig.sites(glob, pos)[0]

    def _offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        """The contact point in the wrist frame for a handshape (measured on the posed rig)."""
        key = (self.body_key, side, part, shape, spread)
        if key not in self.cache:
            self.cache[key] = self._measure_offset(side, part, shape, spread)
        return self.cache[key]

    def _hand_frame(self, side: str, shape: str, spread: bool):
        """The rest frame with one hand in a handshape (one posing serves every hand part)."""
        key = (self.body_key, side, "hand frame", shape, spread)
        if key not in self.cache:
            pose = self.rest.copy()
            pose[list(hand_joints(side))] = H.hand_pose(shape, side, spread)
            self.cache[key] = self._frame(pose)
        return self.cache[key]

    def _measure_offset(self, side: str, part: str, shape: str, spread: bool) -> np.ndarray:
        glob, pos, sites = self._hand_frame(side, shape, spread)
        wr = J[f"{side}_wrist"]
        if part == "fist":
            point = pos[J[f"{side}_middle2"]] + glob[wr] @ np.array([SX[side] * 0.012, -0.01, 0.0])
        elif part == "palm":
            point = sites[self.rig.site(f"{side}_palm")]
        else:
            point = sites[self.rig.site(f"{side}_{part}")]
        return glob[wr].T @ (point - pos[wr])

    # -- targets ------------------------------------------------------------------
    def _site_target(self, name: str, glob, pos, sites, side: str):
        """(point, outward normal, nearest real site name) for a location name."""
        s = lambda n: sites[self.rig.site(n)]  # noqa: E731
        d, n = side, OTHER[side]
        name = name.replace("d_", f"{d}_").replace("n_", f"{n}_") if name[:2] in ("d_", "n_") else name
        head_c = (pos[J["left_eye_smplhf"]] + pos[J["right_eye_smplhf"]]) / 2 + BACK * 0.07
        spine = pos[J["spine3"]]
        lateral = np.array([SX[d], 0.0, 0.0])
        wr = J[f"{n}_wrist"]
        palm_n = glob[wr] @ DOWN
        fdir = glob[wr] @ np.array([SX[n], 0.0, 0.0])
        thumb = glob[wr] @ FRONT
        derived = {
            "head_top": lambda: (s("forehead") + UP * 0.06 + BACK * 0.04, UP),
            "under_chin": lambda: (s("chin") + DOWN * 0.02 + BACK * 0.025, unit(DOWN + 0.3 * FRONT)),
            "clavicle": lambda: (s(f"{d}_chest") + UP * 0.05 - lateral * 0.02, unit(FRONT + 0.5 * UP)),
            "torso_mid": lambda: ((s("chest") + s("stomach")) / 2 + FRONT * 0.01, FRONT),
            "waist": lambda: (s("stomach") + DOWN * 0.05 + lateral * 0.07, unit(FRONT + 0.5 * lateral)),
            "hip": lambda: (s("stomach") + DOWN * 0.14 + lateral * 0.14 + BACK * 0.03, unit(lateral + FRONT)),
            f"{n}_elbow_front": lambda: (s(f"{n}_forearm_inner") + 0.4 * (pos[J[f"{n}_elbow"]] - pos[wr]), -palm_n),
            f"{n}_forearm_ulnar": lambda: ((s(f"{n}_forearm") + s(f"{n}_forearm_inner")) / 2 - thumb * 0.03, -thumb),
            f"{n}_finger_front": lambda: ((s(f"{n}_palm") + s(f"{n}_middle_tip")) / 2 + palm_n * 0.005, palm_n),
            f"{n}_finger_back": lambda: ((s(f"{n}_back_of_hand") + s(f"{n}_middle_tip")) / 2 - palm_n * 0.005, -palm_n),
            f"{n}_index_side": lambda: (s(f"{n}_index_tip") - fdir * 0.035 + thumb * 0.009, thumb),
            f"{n}_pinky_side": lambda: (s(f"{n}_pinky_tip") - fdir * 0.025 - thumb * 0.009, -thumb),
            f"{n}_heel": lambda: (s(f"{n}_palm") + 0.5 * (s(f"{n}_wrist_inner") - s(f"{n}_palm")), palm_n),
            "face_away": lambda: (s("nose") + FRONT * 0.2 + DOWN * 0.05, FRONT),
            "chest_away": lambda: (s("chest") + FRONT * 0.28 + DOWN * 0.05, FRONT),
            "hand_away": lambda: (s(f"{n}_palm") + UP * 0.1 + FRONT * 0.02, UP),
            "arm_away": lambda: (s(f"{n}_forearm") + UP * 0.1, UP),
            "neutral": lambda: (np.array([SX[d] * 0.12, spine[1] - 0.05, spine[2] + 0.32]), FRONT),
        }
        if name in derived:               # a place between sites (computed only when asked for)
            point, normal = derived[name]()
            if name in ON_SURFACE:   # a point between sites may lie inside: put it on the skin
                point, normal = self._on_surface(point)
        else:
            point = s(name)
            if name in (f"{n}_palm",):
                normal = palm_n
            elif name == f"{n}_back_of_hand":
                normal = -palm_n
            elif name.endswith("_tip"):
                normal = fdir
            elif name.startswith(n + "_"):
                normal = unit(point - pos[J[f"{n}_elbow"]])
            elif name in ("neck",):
                normal = FRONT
            elif name.endswith("shoulder"):
                normal = unit(UP + 0.3 * FRONT)
            elif name in ("chest", "stomach") or name.endswith("_chest"):
                normal = unit((point - spine) * np.array([1.0, 0.2, 1.0]))
            else:
                normal = unit(point - head_c)
        dist = R.np_norm(sites - point, axis=1)
        self.site_gap = float(dist.min())    # how far the target lies from the nearest named site
        nearest = SITE_NAMES[int(np.argmin(dist))]
        return point, unit(normal), nearest

    # -- hand orientation -----------------------------------------------------------
    def _orientation(self, part: str, kind: str, normal: np.ndarray, target: np.ndarray,
                     shoulder: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """(palm, fingers) world directions for the dominant (right) hand at its location."""
        medial = DIRECTIONS["left"]
        rng = self.rng
        if part == "palm" and kind not in ("neutral", "away"):
            fingers = UP if kind == "head" else unit(medial + 0.6 * UP + 0.2 * FRONT)
            if self.site in ("waist", "hip"):
                fingers = unit(0.5 * medial + DOWN)
            if abs(unit(normal) @ UP) > 0.7:
                fingers = unit(FRONT + 0.3 * medial)
            return -normal, fingers
        if kind in ("neutral", "away"):
            choice = rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])
            palm, fingers = [(medial, FRONT + 0.5 * UP), (DOWN, FRONT + 0.3 * medial),
                             (BACK, UP + 0.3 * medial), (UP, FRONT + 0.3 * medial)][choice]
            return palm, unit(fingers + rng.normal(0, 0.1, 3))
        # Fingertip or fist contact: the fingers point from where a relaxed wrist would be
        # (out to the side, below and in front of the target) toward the target.
        out = DIRECTIONS["right"]
        n = unit(normal)
        if kind in ("hand", "arm") and n @ UP > 0.6:    # a surface facing up (the other palm): from above
            return DOWN, unit(FRONT + 0.4 * medial + 0.2 * DOWN)
        if kind in ("hand", "arm") and n @ UP < -0.6:   # a surface facing down: from below
            return UP, unit(FRONT + 0.4 * medial + 0.3 * UP)
        wrist = out * 0.06 + DOWN * 0.10 + FRONT * 0.08 + n * 0.05
        if self.site == "d_shoulder":   # folding back onto the own shoulder
            wrist = FRONT * 0.14 + DOWN * 0.02 + medial * 0.04
        for _ in range(20):
            w = R.np_norm(wrist)
            into = wrist @ n / w          # how straight the fingers point into the skin
            if into > 0.6:                # graze rather than stab, so the other fingers stay out
                wrist = wrist - n * (into - 0.55) * w
            elif R.np_norm(target + wrist / w * reach - shoulder) < 0.19:
                wrist = wrist + unit(0.5 * out + DOWN + 0.5 * FRONT) * 0.03   # keep the elbow from folding shut
            else:
                break
        fingers = unit(-wrist + self.rng.normal(0, 0.05, 3))
        if part == "fist":                # a fist leads with its knuckles: fingers into the surface
            fingers = unit(-n + 0.2 * UP + self.rng.normal(0, 0.05, 3))
        # The palm most across the fingers that neither faces into the skin (the curled
        # fingers and a folded thumb lie on the palm side) nor turns the thumb side into it.
        palms = [BACK, medial, DOWN, -medial]
        thumb = [R.np_cross(fingers, p) for p in palms]     # the right hand's thumb side
        score = [abs(p @ fingers) + 2.0 * max(0.0, -(unit(t) @ n)) + 2.0 * max(0.0, -(p @ n) - 0.3)
                 + (0.3 if i == 3 else 0.0) for i, (p, t) in enumerate(zip(palms, thumb))]
        palm = palms[int(np.argmin(score))]
        return palm, fingers

    def _reachable_aim(self, frame, target, rot, offset, direction):
        """A hand rotation that points the contact part at the target along ``direction``
        and that the wrist can make from the forearm the arm IK gives there."""
        arm = Arm(self.rig, "right", frame[0], frame[1])
        for _ in range(3):
            palm, fingers = aim(rot, offset, direction)
            rot = hand_rotation("right", fingers, palm)
            wrist = target - rot @ offset
            [(sh, el, *_)] = yield [SolveOnce(arm, wrist[None], rot[None], offset[None], 0.0)]
            g_el = arm.g_collar @ sh[0] @ el[0]
            angles = np.clip(xzy_angles(g_el.T @ rot), -0.75 * WRIST_LIMITS, 0.75 * WRIST_LIMITS)
            rot = g_el @ euler_xzy(angles)
        return aim(rot, offset, direction)

    # -- the other hand ---------------------------------------------------------------
    def _base_pose(self, pose: np.ndarray, shape: str, spread: bool) -> np.ndarray | None:
        """Put the passive (left) hand where the dominant hand's location needs it."""
        glob, pos, sites = self.rest_frame if np.array_equal(pose, self.rest) else self._frame(pose)
        spine = pos[J["spine3"]]
        right = DIRECTIONS["right"]
        site = self.site
        if site in ("n_upper_arm", "n_elbow"):
            return None, None                              # the hanging arm is the base
            yield                                          # (a generator: it may ask for a solve)
        if self.kind == "arm":
            palm_up = site in ("n_forearm_inner", "n_wrist_inner", "n_elbow_front")
            where = np.array([-0.02, spine[1] - 0.12, spine[2] + 0.3])
            palm, fingers = (UP if palm_up else DOWN), right
        elif site in ("n_palm", "n_heel", "n_finger_front"):
            where, palm, fingers = np.array([0.04, spine[1] - 0.16, spine[2] + 0.3]), UP, unit(FRONT + 0.6 * right)
        elif site in ("n_back_of_hand", "n_finger_back"):
            where, palm, fingers = np.array([0.04, spine[1] - 0.14, spine[2] + 0.3]), DOWN, unit(FRONT + 0.6 * right)
        elif self.kind == "hand" or site == "hand_away":
            where, palm, fingers = np.array([0.05, spine[1] - 0.1, spine[2] + 0.3]), right, unit(0.5 * FRONT + UP)
        else:                                               # passive hand in neutral space
            where, palm, fingers = np.array([0.12, spine[1] - 0.16, spine[2] + 0.28]), right, unit(FRONT + 0.4 * UP)
        where = where + self.rng.normal(0, 0.01, 3)
        arm = Arm(self.rig, "left", glob, pos)
        offset = self._offset("left", "palm", shape, spread)
        rot = hand_rotation("left", fingers, palm)[None]
        [(sh, el, wr, _)] = yield [Solve(arm, where[None], rot, offset[None])]
        out = pose.copy()
        out[[J["left_shoulder"], J["left_elbow"], J["left_wrist"]]] = R.np_quaternion_to_axis_angle(
            R.np_matrix_to_quaternion(np.stack([sh[0], el[0], wr[0]])))
        out[list(hand_joints("left"))] = H.hand_pose(shape, "left", spread)
        return out, (where, rot[0], offset)

    # -- the dominant path --------------------------------------------------------------
    def _target(self, name: str, kind: str, frame, contact: bool):
        point, normal, nearest = self._site_target(name, *frame, "right")
        if kind in ("neutral", "away"):
            point = point + self.rng.normal(0, self.signer.jitter, 3)
        elif not contact:
            point = point + normal * self.rng.uniform(0.04, 0.07)
        else:
            t = R.np_cross(normal, self.rng.normal(0, 1, 3))
            point = point + unit(t) * min(self.signer.jitter, 0.003)
        return point, normal, nearest

    def _path(self, p0, normal, kind, contact, frame, k):
        """(k, 3) points over the sign and the stroke labels, by movement type."""
        ph, rng, amp = self.ph, self.rng, self.signer.amplitude
        medial = DIRECTIONS["left"]
        n = unit(normal)
        t1 = unit(medial - (medial @ n) * n) if abs(medial @ n) < 0.9 else unit(UP - (UP @ n) * n)
        t2 = R.np_cross(n, t1)
        surface = kind not in ("neutral", "away")
        reps = 2 if ph.repeated else 1
        a = 0.1 * amp
        move = ph.movement
        second = LOCATIONS.get(ph.second_minor_location)
        if move in ("Straight", "Curved"):
            if second is not None and second[0] not in ("neutral", "away") and second[1] != self.site:
                p1, n1, _ = self._target(second[1], second[0], frame, contact)
                d = p1 - p0
                bulge = unit(n + n1) * 0.04 if move == "Straight" else unit(n + n1) * 0.06
            else:
                if second is not None and second[0] in ("neutral", "away"):
                    d = n * a
                else:
                    dirs = [n, DOWN, t1, UP] if surface else [FRONT, DOWN, medial, UP, -medial]
                    probs = [0.4, 0.3, 0.2, 0.1] if surface else [0.3, 0.3, 0.2, 0.1, 0.1]
                    d = dirs[rng.choice(len(dirs), p=probs)] * a
                if surface:   # never into the surface: along it or away from it
                    d = d - min(0.0, d @ n) * n + 0.3 * a * n
                    if R.np_norm(d) < 0.6 * a:
                        d = 0.7 * a * n + 0.3 * a * t1
                bulge = np.zeros(3) if move == "Straight" else \
                    unit(R.np_cross(d, n if surface else FRONT)) * 0.3 * R.np_norm(d)
            ways = [p0, p0 + d] * reps if reps > 1 else [p0, p0 + d]
            bulges = [bulge if i % 2 == 0 else -bulge for i in range(len(ways) - 1)]
            return waypoints(ways, bulges, k)
        if move == "Circular":
            r = 0.045 * amp
            e1, e2 = (t1, t2) if surface else (medial, UP)
            turns = reps
            s = ease(np.linspace(0, 1, k)) * 2 * np.pi * turns
            c = p0 + r * e1
            pts = c - r * np.cos(s)[:, None] * e1 + r * np.sin(s)[:, None] * e2
            return pts, ["circle"] * turns
        if move == "BackAndForth":
            d = (t1 if surface else medial) * 0.05 * amp
            cycles = 3 if reps > 1 else 2
            ways = [p0 + d * (i % 2) for i in range(2 * cycles + 1)]
            return waypoints(ways, [np.zeros(3)] * (len(ways) - 1), k)
        if move == "Z-shaped":
            right, w, h = DIRECTIONS["right"], 0.08 * amp, 0.07 * amp
            ways = [p0, p0 + right * w, p0 + DOWN * h, p0 + DOWN * h + right * w]
            return waypoints(ways, [np.zeros(3)] * 3, k)
        if move == "X-shaped":
            right, w = DIRECTIONS["right"], 0.07 * amp
            ways = [p0, p0 + (right + DOWN) * w, p0 + right * w, p0 + DOWN * w]
            return waypoints(ways, [np.zeros(3)] * 3, k)
        if move == "Other":
            ways = [p0, p0 + t1 * 0.03 + t2 * 0.02, p0]
            return waypoints(ways, [np.zeros(3)] * 2, k)
        # None: hold; repeated -> small taps
        if reps > 1:
            ways = [p0, p0 + n * 0.03, p0, p0 + n * 0.03, p0]
            return waypoints(ways, [np.zeros(3)] * 4, k)
        return np.repeat(p0[None], k, 0), []

    # -- the whole sign -------------------------------------------------------------------

    def steps(self):
        """The sign as a generator of arm-solve requests (see ``drive``); returns (Motion, Truth)."""
        ph, rng, signer = self.ph, self.rng, self.signer
        shape = H.resolve(ph.handshape).name
        spread = H.resolve(shape).spread if ph.spread not in ("0", "1") else ph.spread == "1"
        shape2 = changed_shape(shape) if ph.flexion_change == "1" else shape
        spread2 = (not spread) if ph.spread_change == "1" else (H.resolve(shape2).spread if shape2 != shape else spread)
        contact = ph.has_contact and self.kind not in ("neutral", "away")
        part = contact_part(ph, shape, self.kind)
        static = self.rest.copy()
        truth = Truth(location=ph.minor_location, movement=ph.movement, two_handed=self.two)
        base_shape, base_track = None, None
        if self.two in ("base_same", "base_other"):
            nd = ph.nondominant_handshape
            base_shape = shape if self.two == "base_same" or nd not in H.HANDSHAPES and nd not in H.ALIASES \
                else H.resolve(nd).name
            based, base_track = yield from self._base_pose(static, base_shape, H.resolve(base_shape).spread)
            if based is not None:
                static = based
            truth.handshape["left"] = [base_shape]
            truth.fingers["left"] = [finger_state(base_shape)]
        frame = self.rest_frame if static is self.rest or np.array_equal(static, self.rest) else self._frame(static)
        site = self.site
        if self.two == "symmetric":   # both hands cannot share a central site: each takes its side's
            site = SYMMETRIC_SITES.get(site, site)
        p0, normal, nearest = self._target(site, self.kind, frame, contact)
        # The cues name sites: a touch between named sites (the clavicle) reads as "near"
        # the closest one; the other hand is touched anywhere on its fingers, palm or back.
        touches_site = contact and (self.site_gap < 0.012 or self.kind == "hand")
        label = HAND_REGIONS.get(site, region(nearest)) if self.kind == "hand" else region(nearest)
        if self.two == "symmetric" and not site.startswith(("d_", "n_")) and self.kind not in ("neutral", "away"):
            p0 = p0 + DIRECTIONS["right"] * 0.05 + normal * 0.01
        # timeline (frames)
        tempo = signer.tempo
        lead, tail = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        approach = int(round(0.44 * tempo * FPS))
        settle = 5
        ret = int(round(0.44 * tempo * FPS))
        budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        if budget < 10:   # a slow signer: shorter approach and return, never a longer motion
            approach, ret = approach - (10 - budget) // 2 - 1, ret - (10 - budget) // 2 - 1
            budget = int(MAX_SECONDS * FPS) - (lead + approach + settle + ret + tail)
        sign = int(np.clip(round(self.entry.duration_ms / 1000.0 * tempo * FPS), 10, budget))
        k = settle + sign
        points, strokes = self._path(p0, normal, self.kind, contact, frame, sign)
        off_a = self._offset("right", part, shape, spread)
        palm0, fingers0 = self._orientation(part, self.kind, normal, p0, frame[1][J["right_shoulder"]],
                                            float(R.np_norm(off_a)))
        if part != "palm" and self.kind not in ("neutral", "away"):
            palm0, fingers0 = yield from self._reachable_aim(frame, p0, hand_rotation("right", fingers0, palm0), off_a,
                                                  fingers0)
        u = np.linspace(0.0, 1.0, sign)
        twist = np.zeros(sign)
        if ph.ulnar_rotation == "1":
            twist = (ease(u) - 0.5) * 2 * 0.75 * rng.choice([-1.0, 1.0])
        palm = np.einsum("tij,j->ti", rot_about(np.broadcast_to(fingers0, (sign, 3)), twist), unit(palm0))
        pre = p0 + normal * (0.07 if contact else 0.03)
        settle_pts = pre + (p0 - pre) * ease(np.linspace(0, 1, settle + 1)[:-1])[:, None]
        pts = np.concatenate([settle_pts, points])
        palm_all = np.concatenate([np.repeat(palm[:1], settle, 0), palm])
        blend = np.concatenate([np.zeros(settle), ease((u - 0.2) / 0.6) if shape2 != shape or spread2 != spread
                                else np.zeros(sign)])
        window = np.sin(np.linspace(0, np.pi, k)) ** 2
        pts = pts + smooth_noise(rng, k, signer.tremor) * window[:, None]
        # dominant arm
        off_b = self._offset("right", part, shape2, spread2)
        offsets = off_a + blend[:, None] * (off_b - off_a)
        rot = hand_rotation("right", np.broadcast_to(fingers0, (k, 3)), palm_all)
        glob, pos, _ = frame
        hold = lambda x: np.repeat(np.asarray(x)[None], k, 0)  # noqa: E731
        paths = {"right": (pts, rot, offsets, normal * (0.07 if contact else 0.03))}
        hands = {"right": hand_track(shape, spread, shape2, spread2, blend, "right")}
        if base_track is not None:
            where, b_rot, b_off = base_track
            paths["left"] = (hold(where), hold(b_rot), hold(b_off), np.zeros(3))
            hands["left"] = hold(H.hand_pose(base_shape, "left"))
        if ph.movement == "Other":
            hands["right"] = wiggle(hands["right"], k, "right")
        if self.two == "symmetric":
            alternating = rng.random() < 0.4 and ph.movement != "None"
            mirror = np.array([-1.0, 1.0, 1.0])
            m_pts = (pts[::-1] if alternating else pts) * mirror
            m_palm = (palm_all[::-1] if alternating else palm_all) * mirror
            m_rot = mirror[:, None] * (rot[::-1] if alternating else rot) * mirror[None, :]   # M R M
            off_l = self._offset("left", part, shape, spread)
            off_l2 = self._offset("left", part, shape2, spread2)
            offs_l = off_l + blend[:, None] * (off_l2 - off_l)
            paths["left"] = (m_pts, m_rot, offs_l, normal * mirror * (0.07 if contact else 0.03))
            hands["left"] = hand_track(shape, spread, shape2, spread2, blend, "left")
            truth.contact["left"] = ((region(mirror_site(nearest)), touches_site)
                                     if self.kind not in ("neutral", "away") else None)
            truth.palm["left"] = dedup(palm_label(m_palm[[settle, -1]]))
            flip = {"left": "right", "right": "left"}
            if alternating:   # the other hand runs the path backwards: reversed, opposite strokes
                opposite = {"up": "down", "down": "up", "forward": "back", "back": "forward",
                            "left": "right", "right": "left"}
                left_strokes = [opposite.get(x, x) for x in reversed(strokes)]
            else:
                left_strokes = list(strokes)
            truth.strokes["left"] = [flip.get(x, x) for x in left_strokes]
            truth.fingers["left"] = dedup([finger_state(shape), finger_state(shape2)])
            truth.handshape["left"] = dedup([shape, shape2])
        self.fingers = {side: hands[side] for side in ("right", "left") if side in hands and
                        (side == "right" or self.two == "symmetric")}
        arms = yield from self._arm_tracks(frame, paths, approach, ret)
        poses = self._timeline(arms, hands, lead, approach, k, ret, tail)
        first = lead + approach + settle
        truth.sign_frames = (first, first + sign)
        truth.contact["right"] = (label, touches_site) if self.kind not in ("neutral", "away") else None
        truth.palm["right"] = dedup(palm_label(palm[[0, -1]]))
        truth.strokes["right"] = strokes
        truth.fingers["right"] = dedup([finger_state(shape), finger_state(shape2)])
        truth.handshape["right"] = dedup([shape, shape2])
        truth.targets["right"] = {"site": nearest, "frame": first, "point": p0, "offset": off_a,
                                  "contact": contact}
        motion = Motion(poses, np.zeros((len(poses), 3)), np.zeros((len(poses), NUM_EXPRESSION)), fps=FPS,
                        betas=signer.betas.astype(np.float32), text="",
                        provenance={"source": "signforge-synth", "entry": self.entry.entry_id,
                                    "seed": str(signer.seed)})
        return motion, truth

    def _arm_tracks(self, frame, paths: dict, approach: int, ret: int):
        """Local shoulder/elbow/wrist quaternions (approach + sign + return, 3, 4) per side.

        ``paths[side]`` = (points, hand rotations, contact offsets, lift). The sign frames
        are solved exactly. On the way in (and out) the contact point travels from where it
        hangs at rest, bowing forward so the hand never cuts through the body; the arm
        follows it with the sign's elbow swing, the wrist turns in its own frame from rest
        to the sign's first pose, and the whole arm eases into the rest pose at one end and
        into the sign's first (last) pose at the other. A generator: the solves are requests.
        The legs (in and out, each side) are computed together, a row per frame.
        """
        glob, pos, _ = frame
        r_glob, r_pos, _ = self.rest_frame
        sides = list(paths)
        arms = {side: Arm(self.rig, side, glob, pos) for side in sides}
        solved = yield [Solve(arms[side], *paths[side][:3]) for side in sides]
        if self.kind in ("head", "body"):
            solved = yield from self._clear(arms, paths, solved)
        s_in, s_out = ease(np.arange(1, approach + 1) / approach), ease(np.arange(1, ret + 1) / ret)
        s = np.concatenate([s_in, s_out] * len(sides))
        w_sign = np.concatenate([s_in, 1 - s_out] * len(sides))          # 1 at the sign's end of a leg
        rows = [approach, ret] * len(sides)
        legs = []   # per leg: start, end, lift, rest-end quaternions, sign-end quaternions, wished hand
        cores, rests = {}, {}
        for side, (sh, el, wrs, _) in zip(sides, solved):
            pts, rot, offsets, lift = paths[side]
            wr = J[f"{side}_wrist"]
            cores[side] = R.np_matrix_to_quaternion(np.stack([sh, el, wrs], 1))            # (k, 3, 4)
            rests[side] = R.np_axis_angle_to_quaternion(self.rest[[J[f"{side}_{n}"] for n in
                                                                   ("shoulder", "elbow", "wrist")]])
            rest_pt = r_pos[wr] + r_glob[wr] @ offsets[0]
            legs += [(rest_pt, pts[0], lift, rests[side], cores[side][0], rot[0], r_glob[wr], offsets[0]),
                     (pts[-1], rest_pt, lift, rests[side], cores[side][-1], rot[-1], r_glob[wr], offsets[0])]
        per_row = lambda i: np.repeat(np.stack([leg[i] for leg in legs]), rows, axis=0)  # noqa: E731
        a, b, lift = per_row(0), per_row(1), per_row(2)
        # bow forward, the more so the further the hand crosses in front of the body
        bow = FRONT * (0.12 + 0.5 * np.abs(a[:, :1] - b[:, :1])) + lift
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

    def _clear(self, arms: dict, paths: dict, solved: list, rounds: int = 3):
        """Keep the hands out of the head and torso over the solved frames: where a fingertip,
        the palm, the back of the hand or the wrist sinks more than CLEAR_LIMIT behind the
        skin, the arm turns the hand about its contact point (``Arm.clear``, against the skin
        plane under each point). The skin curves, so the planes are measured again for each
        of a few rounds. Each round's change is spread over neighbouring frames so that the
        motion stays smooth. A generator: the solves are requests."""
        out = list(solved)
        live = {i: side for i, side in enumerate(paths) if side in self.fingers}
        start = {}
        for _ in range(rounds):
            asks, which = [], []
            for i, side in live.items():
                sh, el, wr, reached = out[i]
                pts, rot, offsets, _ = paths[side]
                arm, local = arms[side], self._hand_points(side, self.fingers[side])
                g_wr = arm.g_collar @ sh @ el @ wr
                world = (reached - mv(g_wr, offsets))[:, None] + np.einsum("tij,tpj->tpi", g_wr, local)
                depth, v, n = self._depths(world)
                if depth.max() <= CLEAR_LIMIT:
                    continue
                n = np.where((depth > -1.0)[..., None], n, 0.0)       # far from the skin: no plane
                # the frames that sink, and their neighbours (the change spreads over them)
                rows = np.flatnonzero(np.convolve(depth.max(1) > CLEAR_MARGIN, np.ones(5), "same") > 0)
                asks.append(Clear(arm, pts[rows], rot[rows], offsets[rows], local[rows], sh[rows], el[rows],
                                  wr[rows], v[rows], n[rows]))
                which.append((i, side, rows, sh, el, wr))
            if not asks:
                break
            answers = yield asks
            for (i, side, rows, sh, el, wr), (_, x_new) in zip(which, answers):
                x_now = arms[side].params(sh, el, wr)
                x0 = start.setdefault(i, x_now)
                x = x_now.copy()
                x[rows] = x_new
                x = x0 + spread_in_time(x - x0)
                l_sh, l_el, l_wr, _, point = arms[side].chain(x, paths[side][2])
                out[i] = (l_sh, l_el, l_wr, point)
            live = {w[0]: w[1] for w in which}
        return out

    def _timeline(self, arms, hands, lead, approach, k, ret, tail) -> np.ndarray:
        """Rest -> approach -> the solved frames -> return -> rest, as (T, 55, 3) axis-angles.
        Only the joints that move are converted; the others keep the rest pose's numbers."""
        n = lead + approach + k + ret + tail
        span = slice(lead, lead + approach + k + ret)
        joints, tracks = [], []
        for side, track in arms.items():
            joints += [J[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
            tracks.append(track)
        w_in = ease(np.arange(1, approach + 1) / approach)
        w_out = ease(np.arange(1, ret + 1) / ret)
        for side, fingers in hands.items():
            hand = list(hand_joints(side))
            lax = R.np_axis_angle_to_quaternion(self.rest[hand])
            core = R.np_axis_angle_to_quaternion(fingers)
            if np.array_equal(core[0], core[-1]):    # one handshape: the way out is the way in reversed
                legs = R.np_quaternion_slerp_path(lax, core[0], np.concatenate([w_in, 1 - w_out]))
                fin_in, fin_out = legs[:approach], legs[approach:]
            else:
                fin_in = R.np_quaternion_slerp_path(lax, core[0], w_in)
                fin_out = R.np_quaternion_slerp_path(core[-1], lax, w_out)
            joints += hand
            tracks.append(np.concatenate([fin_in, core, fin_out]))
        poses = np.repeat(self.rest[None], n, 0)
        if joints:
            poses[span, joints] = R.np_quaternion_to_axis_angle(np.concatenate(tracks, 1))
        return poses


def spread_in_time(delta: np.ndarray, reach: int = 2, sigma: float = 1.5) -> np.ndarray:
    """Per-frame changes (T, D) spread in time: each frame takes the largest change within
    ``reach`` frames, then a Gaussian (``sigma`` frames) smooths the steps between them."""
    t = len(delta)
    size = R.np_norm(delta, axis=1)
    idx = np.arange(t)
    win = np.clip(idx[:, None] + np.arange(-reach, reach + 1)[None], 0, t - 1)
    held = delta[win[idx, np.argmax(size[win], 1)]]
    k = np.arange(-3 * int(np.ceil(sigma)), 3 * int(np.ceil(sigma)) + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    padded = np.pad(held, ((len(k) // 2, len(k) // 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], w, mode="valid") for d in range(delta.shape[1])], 1)


def aim(rot: np.ndarray, offset: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn a hand (least rotation) so its contact point lies along ``direction`` from the wrist.

    A bent middle finger or a thumb tip is not where the fingers point; this keeps the
    wrist where a relaxed arm puts it. Returns the new (palm, fingers) directions.
    """
    v, w = unit(rot @ offset), unit(direction)
    axis = R.np_cross(v, w)
    angle = np.arctan2(R.np_norm(axis), v @ w)
    q = rot_about(axis if R.np_norm(axis) > 1e-9 else UP, angle) @ rot
    return q @ DOWN, q @ np.array([-1.0, 0.0, 0.0])


def hand_track(shape, spread, shape2, spread2, blend, side) -> np.ndarray:
    """(k, 15, 3) finger poses blending from one handshape into another over ``blend`` (0..1)."""
    if (shape, spread) == (shape2, spread2):          # most signs hold one handshape
        return np.repeat(H.hand_pose(shape, side, spread)[None], len(blend), 0)
    a = R.np_axis_angle_to_quaternion(H.hand_pose(shape, side, spread))
    b = R.np_axis_angle_to_quaternion(H.hand_pose(shape2, side, spread2))
    return R.np_quaternion_to_axis_angle(R.np_quaternion_slerp_path(a, b, blend))


def wiggle(track: np.ndarray, k: int, side: str) -> np.ndarray:
    """Movement "Other": the long fingers flutter (two eased cycles)."""
    out = track.copy()
    phase = np.sin(np.linspace(0, 4 * np.pi, k)) * np.sin(np.linspace(0, np.pi, k)) ** 2 * 0.35
    flex = -1.0 if side == "left" else 1.0   # flexion is -z on the left hand, +z on the right
    for f in range(4):   # index, middle, pinky, ring knuckles, neighbours in opposite phase
        out[:, 3 * f, 2] += flex * phase * (1 if f % 2 == 0 else -1)
    return out


def waypoints(ways, bulges, k: int):
    """Eased strokes through waypoints (each stroke starts and ends at rest) and their labels."""
    ways = [np.asarray(w, float) for w in ways]
    m = len(ways) - 1
    u = np.linspace(0, 1, k) * m
    i = np.minimum(u.astype(int), m - 1)
    s = ease(u - i)[:, None]
    w0, w1 = np.stack(ways[:-1])[i], np.stack(ways[1:])[i]
    b = np.stack(bulges)[i]
    pts = w0 + (w1 - w0) * s + b * np.sin(np.pi * s)
    labels = [direction_label(ways[j + 1] - ways[j]) for j in range(m)
              if R.np_norm(ways[j + 1] - ways[j]) > 0.015]
    return pts, labels
