"""One sign, from its phonology to a ``Motion`` and its ``Truth``: the placement and
handshapes, the other hand's base pose, the dominant hand's target, orientation and path,
the mirrored path of a symmetric sign, the arms solved (and turned out of the skin) and
laid on the timeline. A generator of arm-solve requests (see ``batch``); every random
choice comes from the sign's own generator, in a fixed order. numpy + torch (the body
model); never bpy.
"""
from __future__ import annotations

import numpy as np

from ...body import rotations as R
from ...body.skeleton import JOINT_INDEX as J
from ...body.skeleton import NUM_EXPRESSION
from ...motion.motion import Motion
from .. import handshapes as H
from ..hms import DIRECTIONS, region
from ..lexicon import Entry, Phonology
from .arm import Arm, hand_rotation
from .batch import Solve
from .clearance import clear
from .maths import ease, rot_about, smooth_noise, unit
from .movement import Asked, HandPath, stroke_path
from .orientation import orientation, reachable_aim
from ..handshapes import finger_state
from .phonology import Handshapes, Placement, contact_part
from .signer import Signer, Truth, dedup, mirror_site, palm_label
from .signer_body import SignerBody
from .targets import base_pose, place_target
from .tables import FPS, HAND_REGIONS, LOCATIONS, OTHER, SX, SYMMETRIC_SITES
from .timeline import Timing, arm_tracks, hand_track, poses, wiggle

MIRROR = np.array([-1.0, 1.0, 1.0])     # across the body's midline (x)
# Two hands that part start together: each hand's contact point this far (metres) from the
# midline, so the hands start a centimetre or two apart, not 24 cm. In the space before the
# body the palms face each other (a fingertip's palm lies a finger's half thickness nearer the
# midline); on the body, hands laid on it side by side (palms, or fists' fronts) are half a
# hand wide. Hands that part from the head (the temples) start there
PARTING_FACING, PARTING_ON_BODY = 0.02, 0.045
ARRIVE_CLOSER = 0.025   # metres nearer the skin a stroke said to end at a second place ends than a hover
# A stroke run backwards goes the other way.
OPPOSITE = {"up": "down", "down": "up", "forward": "back", "back": "forward", "left": "right", "right": "left"}


def sign(figure: SignerBody, entry: Entry, ph: Phonology, signer: Signer, rng,
         want: str | tuple[str, ...] | Asked | None = None):
    """The sign of ``ph`` (a whole entry's coding, or a compound's morpheme) by ``signer``
    on ``figure``, lasting ``entry``'s duration; ``want`` is a stroke direction asked for
    (see ``movement.stroke_path``), in the right-handed frame. A generator of solve requests
    (see ``batch.drive``); returns (Motion, Truth), right-handed."""
    place = Placement.of(ph, rng)
    hs = Handshapes.of(ph)
    contact = ph.has_contact and place.on_signer
    part = contact_part(ph, hs.shape, place.kind)
    truth = Truth(location=ph.minor_location, movement=ph.movement, two_handed=place.two)
    static, base_shape, base_track = figure.rest, None, None
    if place.two in ("base_same", "base_other"):
        base_shape = hs.base(ph, place.two)
        based, base_track = yield from base_pose(figure, place, base_shape, H.resolve(base_shape).spread, rng)
        if based is not None:
            static = based
        truth.handshape["left"] = [base_shape]
        truth.fingers["left"] = [finger_state(base_shape)]
    frame = figure.frame_of(static)
    site = place.site
    if place.two == "symmetric":   # both hands cannot share a central site: each takes its side's
        site = SYMMETRIC_SITES.get(site, site)

    symmetric = place.two == "symmetric" and place.on_signer
    arriving = isinstance(want, Asked) and want.arrive and ph.second_minor_location in LOCATIONS

    def beside(name: str, point, normal):
        # each hand beside a central site, and a hand that does not touch it half as far off
        # the skin as one alone (4-7 cm there): with the 5 cm aside, "bring both fists up to the
        # chin" ended 7-9 cm from it, beside and in front of the face
        if not symmetric or name.startswith(("d_", "n_")):
            return point
        return point + DIRECTIONS["right"] * 0.05 + normal * (0.01 if contact else -0.025)

    def target(name: str, kind: str):
        # a second location, placed as the first: both hands of a symmetric stroke from one
        # place to another keep their sides ("lower both hands from the chest to the stomach"
        # had closed 8 cm in toward the middle)
        name = SYMMETRIC_SITES.get(name, name) if symmetric else name
        point, normal, nearest, gap = place_target(figure, name, kind, frame, contact, signer.jitter, rng)
        return beside(name, nearer(point, normal, kind), normal), normal, nearest, gap

    def nearer(point, normal, kind: str):
        # a stroke said to go from one place to another (a second location, asked to arrive)
        # starts and ends at them: 1.5-4.5 cm off the skin, not 4-7 ("lower your fist from your
        # chest to your stomach" stopped 7 cm short of it)
        if arriving and not contact and not symmetric and kind in ("head", "body"):
            return point - normal * ARRIVE_CLOSER
        return point

    p0, normal, nearest, gap = place_target(figure, site, place.kind, frame, contact, signer.jitter, rng)
    p0 = nearer(p0, normal, place.kind)
    # The cues name sites: a touch between named sites (the clavicle) reads as "near"
    # the closest one; the other hand is touched anywhere on its fingers, palm or back.
    touches_site = contact and (gap < 0.012 or place.kind == "hand")
    label = HAND_REGIONS.get(site, region(nearest)) if place.kind == "hand" else region(nearest)
    p0 = beside(site, p0, normal)
    if isinstance(want, Asked) and want.parting and place.two == "symmetric" and place.kind in ("neutral", "away", "body"):
        p0 = p0.copy()
        laid = place.kind not in ("neutral", "away") and part in ("palm", "fist")   # a fingertip: as facing
        p0[0] = SX["right"] * (PARTING_ON_BODY if laid else PARTING_FACING)
    reach = float(R.np_norm(p0 - figure.rest_frame[1][J["right_wrist"]]))   # from where the hand hangs
    timing = Timing.plan(signer.tempo, entry, rng, reach)
    points, strokes = stroke_path(ph, place, p0, normal, timing.sign, signer.amplitude, rng, target, want)
    off_a = figure.offset("right", part, hs.shape, hs.spread)
    palm0, fingers0 = orientation(part, place, normal, p0, frame[1][J["right_shoulder"]], float(R.np_norm(off_a)),
                                  rng, facing=isinstance(want, Asked) and want.facing,
                                  point=want.point if isinstance(want, Asked) else None)
    if part != "palm" and place.on_signer:
        palm0, fingers0 = yield from reachable_aim(figure, frame, p0, hand_rotation("right", fingers0, palm0), off_a,
                                                   fingers0)
    lift = normal * (0.07 if contact else 0.03)
    # the hand settles where its stroke starts: the place, or under it for a stroke that arrives there
    start = points[0] if isinstance(want, Asked) and want.arrive else p0
    right, palm_all, blend = _dominant_path(figure, ph, hs, part, timing, points, start, lift, palm0, fingers0,
                                            signer.tremor, rng)
    k, settle = timing.k, timing.settle
    paths = {"right": right}
    hands = {"right": hand_track(hs, blend, "right")}
    if base_track is not None:
        hold = lambda x: np.repeat(np.asarray(x)[None], k, 0)  # noqa: E731
        where, b_rot, b_off = base_track
        paths["left"] = HandPath(hold(where), hold(b_rot), hold(b_off), np.zeros(3))
        hands["left"] = hold(H.hand_pose(base_shape, "left"))
    if ph.movement == "Other":
        hands["right"] = wiggle(hands["right"], k, "right")
    if place.two == "symmetric":
        # both hands of a stroke said to arrive at a place get there together ("bring both fists
        # up to the chin": alternating, the left hand went down while the right came up)
        # as do two hands said to part, which part from the middle together
        alternating = rng.random() < 0.4 and ph.movement != "None" and not (
            isinstance(want, Asked) and (want.arrive or want.parting))
        paths["left"], m_palm = _mirrored(figure, right, palm_all, blend, hs, part, alternating)
        hands["left"] = hand_track(hs, blend, "left")
        # the other hand runs the path backwards when alternating: reversed, opposite strokes
        left_strokes = [OPPOSITE.get(x, x) for x in reversed(strokes)] if alternating else list(strokes)
        _record(truth, "left", (region(mirror_site(nearest)), touches_site) if place.on_signer else None,
                m_palm[[settle, -1]], [OTHER.get(x, x) for x in left_strokes], hs)
    moving = {side: hands[side] for side in ("right", "left") if side in hands and
              (side == "right" or place.two == "symmetric")}
    glob, pos, _ = frame
    arms = {side: Arm(figure.rig, side, glob, pos) for side in paths}
    solved = yield [Solve(arms[side], path.points, path.rot, path.offsets) for side, path in paths.items()]
    if place.kind in ("head", "body"):
        solved = yield from clear(figure, arms, paths, solved, moving)
    tracks = yield from arm_tracks(figure, arms, paths, solved, timing.approach, timing.ret)
    frames = poses(figure.rest, tracks, hands, timing)
    truth.sign_frames = (timing.first, timing.first + timing.sign)
    _record(truth, "right", (label, touches_site) if place.on_signer else None, palm_all[[settle, -1]], strokes, hs)
    truth.targets["right"] = {"site": nearest, "frame": timing.first, "point": p0, "offset": off_a,
                              "contact": contact}
    motion = Motion(frames, np.zeros((len(frames), 3)), np.zeros((len(frames), NUM_EXPRESSION)), fps=FPS,
                    betas=signer.betas.astype(np.float32), text="",
                    provenance={"source": "signforge-synth", "entry": entry.entry_id, "seed": str(signer.seed)})
    return motion, truth


def _dominant_path(figure: SignerBody, ph: Phonology, hs: Handshapes, part: str, timing: Timing, points, p0, lift,
                   palm0, fingers0, tremor: float, rng):
    """The dominant hand's ``HandPath`` over the settle and sign frames: in from ``lift`` off
    ``p0`` (where the stroke starts) onto it, then along ``points``, the palm twisting for an ulnar rotation, the
    contact point following the handshape's change, with the signer's tremor. Also its palm
    normals (k, 3) and the handshape blend (k,) from the first handshape (0) to the second (1)."""
    n, settle, k = timing.sign, timing.settle, timing.k
    u = np.linspace(0.0, 1.0, n)
    twist = np.zeros(n)
    if ph.ulnar_rotation == "1":
        twist = (ease(u) - 0.5) * 2 * 0.75 * rng.choice([-1.0, 1.0])
    palm = np.einsum("tij,j->ti", rot_about(np.broadcast_to(fingers0, (n, 3)), twist), unit(palm0))
    pre = p0 + lift
    settle_pts = pre + (p0 - pre) * ease(np.linspace(0, 1, settle + 1)[:-1])[:, None]
    pts = np.concatenate([settle_pts, points])
    palm_all = np.concatenate([np.repeat(palm[:1], settle, 0), palm])
    blend = np.concatenate([np.zeros(settle), ease((u - 0.2) / 0.6) if hs.changes else np.zeros(n)])
    window = np.sin(np.linspace(0, np.pi, k)) ** 2
    pts = pts + smooth_noise(rng, k, tremor) * window[:, None]
    rot = hand_rotation("right", np.broadcast_to(fingers0, (k, 3)), palm_all)
    return HandPath(pts, rot, _offsets(figure, "right", part, hs, blend), lift), palm_all, blend


def _mirrored(figure: SignerBody, right: HandPath, palm_all, blend, hs: Handshapes, part: str, alternating: bool):
    """The other hand of a symmetric sign: the dominant path mirrored across the body's
    midline, run backwards when the hands alternate; and its palm normals."""
    order = slice(None, None, -1) if alternating else slice(None)
    rot = MIRROR[:, None] * right.rot[order] * MIRROR[None, :]      # M R M
    path = HandPath(right.points[order] * MIRROR, rot, _offsets(figure, "left", part, hs, blend), right.lift * MIRROR)
    return path, palm_all[order] * MIRROR


def _offsets(figure: SignerBody, side: str, part: str, hs: Handshapes, blend) -> np.ndarray:
    """The contact point in the wrist frame (k, 3) as the handshape blends into the second."""
    a = figure.offset(side, part, hs.shape, hs.spread)
    b = figure.offset(side, part, hs.shape2, hs.spread2)
    return a + blend[:, None] * (b - a)


def _record(truth: Truth, side: str, contact, palms, strokes: list, hs: Handshapes) -> None:
    """What one moving hand did, for the cues: contact (region, touched?) or None, palm
    direction labels of ``palms``, stroke labels, finger states and handshapes."""
    truth.contact[side] = contact
    truth.palm[side] = dedup(palm_label(palms))
    truth.strokes[side] = strokes
    truth.fingers[side] = dedup([finger_state(hs.shape), finger_state(hs.shape2)])
    truth.handshape[side] = dedup([hs.shape, hs.shape2])
