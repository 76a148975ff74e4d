"""A scene -> the motion it describes, made by the data factory's own synthesizer.

A text's ``Scene`` (which hand, the hands' roles, the handshape, the place and whether it
is touched, the action, its direction and count: see ``backend.data.text``) is not a
lexicon entry; ``candidates`` writes the ASL-LEX codings that can make it (the location a
place is coded as, the movement types an action is measured from in the data) and
``Realizer.realize`` signs each with a few signers, measures every take with the cues the
grammar reads (HandMotionScript), and keeps the take whose measured scene agrees best with
the asked one. The agreement is ``agreement``: the same weights for every take, so a
take that taps twice beats one that taps once. Fingers that open or close are a flexion
change of the asked handshape (to the shape ``handshapes.changed_shape`` ends in).
numpy + torch (the body model); never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..body import rotations as R
from ..data import handshapes as H
from ..data import vocab as V
from ..data.hms import DIRECTIONS, HMS
from ..data.lexicon import Entry, Phonology
from ..data.synth import Asked, Signer, Synthesizer
from ..data.text import Scene, scene_for
from ..eval import fidelity
from ..motion.motion import Motion

# ASL-LEX 2.0 medians (ms): a sign's duration, the dictionary clip's onset, offset and length.
DURATION_MS, ONSET_MS, OFFSET_MS, CLIP_MS = 834.0, 501.0, 1368.0, 1969.0
REPEATED_STRETCH = 1.35       # a repeated movement takes longer than one stroke
# A place of the grammar -> the ASL-LEX minor locations it is most often measured at:
# (touched, neared). Measured on the 75k-sample build (place of the scene vs the coding),
# except where the data's commonest coding stands too far off for a person's "near": the
# lexicon's "near the nose" signs are mostly made in front of the head (HeadAway, 13-15 cm
# from the nose) and "near the chest" ones in neutral space (9-11 cm), so those ask for
# the site itself without contact first. A one-handed scene with no place is made in the
# space in front of the chest (BodyAway: palm at chest height, 14-23 cm in front), as the texts
# call it ("in front of the chest", "at chest height"), rather than where the lexicon's Neutral
# signs sit (palm 15-17 cm under the chest); both measure as no place. BodyAway is one point on
# the midline, where two hands would meet: two hands go to NeutralChest (the planner's own
# location: chest height, each hand on its own side). See ``candidates``.
PLACE_LOCATIONS = {
    None: (("Neutral",), ("Neutral", "HeadAway")),
    "forehead": (("Forehead",), ("Forehead", "HeadTop")), "temple": (("Forehead",), ("Forehead",)),
    "eye": (("Eye",), ("Eye",)), "nose": (("CheekNose", "Forehead"), ("CheekNose", "HeadAway")),
    "cheek": (("CheekNose",), ("CheekNose",)), "ear": (("CheekNose",), ("CheekNose",)),
    "mouth": (("Mouth", "UpperLip"), ("Mouth",)), "chin": (("Chin",), ("Chin", "Neck")),
    "neck": (("Neck", "UnderChin"), ("Neck",)), "shoulder": (("Shoulder",), ("Shoulder",)),
    "chest": (("TorsoTop", "Clavicle"), ("TorsoTop", "Clavicle", "Neutral")),
    "stomach": (("TorsoBottom",), ("TorsoBottom", "Waist")), "hip": (("Hips",), ("Hips",)),
    "upper arm": (("UpperArm",), ("UpperArm",)), "elbow": (("ElbowFront", "ElbowBack"), ("ElbowFront",)),
    "forearm": (("ForearmBack",), ("ForearmBack",)), "wrist": (("WristBack", "Heel"), ("Heel",)),
    "palm": (("Palm",), ("Heel",)), "back of the hand": (("PalmBack", "FingerBack"), ("FingerBack",)),
    "fingers": (("FingerRadial", "FingerTip"), ("HandAway", "FingerRadial")),
}
AWAY_LOCATIONS = ("HeadAway", "Neutral")   # the space before a place, not the place
# Where a stroke from a place leaves, where that is not where a stroke to it ends: "from
# shoulder height" is in front of the collarbone, not on top of the shoulder beside the ear
START_LOCATIONS = {"shoulder": ("Clavicle",)}
# An action -> the (movement, repeated) codings it is measured from, most likely first.
ACTION_MOVES = {
    "tap": (("Straight", True), ("None", True)), "touch": (("None", False), ("Straight", False)),
    "brush": (("Straight", False), ("Curved", False)), "rub": (("Circular", False), ("Circular", True)),
    "circle": (("Circular", True), ("Circular", False)),
    "push": (("Straight", False), ("Curved", False)), "pull": (("Straight", False), ("Curved", False)),
    "rise": (("Straight", False), ("Curved", False)), "drop": (("Straight", False), ("Curved", False)),
    "side": (("Straight", False), ("Curved", False)),
    "back_forth": (("Straight", True), ("BackAndForth", False)),
    "wave": (("BackAndForth", False), ("Z-shaped", False)), "path": (("Z-shaped", False), ("Curved", False)),
    "hold": (("None", False),), "wiggle": (("Other", False),),
    "clap": (("Straight", True), ("Circular", True)), "together": (("Straight", True), ("Circular", True)),
    "apart": (("Straight", False), ("None", True)),
}
DEFAULT_DIRECTION = {"push": "forward", "pull": "back", "rise": "up", "drop": "down"}
# Where an action with no place is made: people wave beside the head (BesideHead: on the hand's
# own side, palm out, fingers up), not at the waist where most of the lexicon's back-and-forth
# signs are (wrist 23-36 cm under the neck there)
UNPLACED = {"wave": ("BesideHead", "HeadAway")}
# An everyday wave swings the hand wider than the lexicon's back-and-forth signs (±5 cm), and
# "raise / lower / push / slide your hand" asks for a movement one sees: the lexicon's strokes
# are 8-12 cm, and a stroke beside the belly or under the chin, where the arm is folded or
# the body is in the way, kept 4 cm of it ("lower your fist to the stomach" read as no movement).
# A tap comes back to its place after a short lift: the lexicon's repeated strokes leave the
# place by their full length (a fist tapping the chin twice went 11-16 cm off it between the
# touches, its mean place near the chest); at 0.6 it lifts 4-6 cm, each touch still measured.
# Two hands that part from side by side (``Asked.parting``) go about shoulder width apart
WIDER = {"wave": 2.0, "rise": 1.5, "drop": 1.5, "push": 1.5, "pull": 1.5, "side": 1.5, "tap": 0.6, "apart": 2.0}
MOST_WIDENED = 3.0   # the widest a stroke goes against the lexicon's (a big wave: 3 times)
SIGN_TYPE = {"one": "OneHanded", "both": "SymmetricalOrAlternating"}
# How much each part of the scene counts when takes are compared.
WEIGHTS = {"hands": 3.0, "place": 2.0, "contact": 1.0, "action": 3.0, "dirs": 2.0, "count": 1.5, "then": 1.5}


def widening(scene: Scene) -> float:
    """How much wider than the lexicon's the scene's strokes go (``WIDER``): its action's, or
    for a touch that then moves ("touch your chin, then move your hand forward"), the
    movement's, which is the only stroke it makes. Hands parting on the chest slide the
    lexicon's length: twice that (the width in front of the body) slid them 25 cm each way,
    past the torso's sides (at the belly, where the body is in the way, the lexicon's length
    parted them 3-5 cm: they keep twice it)."""
    if scene.action == "touch" and scene.then:
        return WIDER.get(scene.then, 1.0)
    if scene.action == "apart" and scene.place == "chest":
        return 1.0
    return WIDER.get(scene.action, 1.0)


@dataclass
class Take:
    """One realized scene: the motion (25 fps), the scene its cues measure, and how well
    that agrees with the asked scene (``agreement``, 1.0 is every part)."""
    motion: Motion
    measured: Scene
    agreement: float
    phonology: Phonology
    sign_frames: tuple[int, int] = (0, 0)
    signer: Signer | None = None


def selected_fingers(shape: str) -> str:
    """ASL-LEX's selected fingers of a handshape: the long fingers not folded (all when none)."""
    fingers = H.resolve(shape).fingers
    out = "".join(k[0] for k in ("index", "middle", "ring", "pinky") if fingers[k] not in "FT")
    return out or "imrp"


# the lexicon code -> the shape a person means by the grammar's everyday name for it
EVERYDAY = {code: shape for shape, code in H.EVERYDAY_SHAPES.items()}


def _shape(scene: Scene) -> str:
    """The signing hand's shape: the scene's (as a person means its everyday name), else flat."""
    for name in (scene.shape, "open_b"):
        if name and (name in H.HANDSHAPES or name in H.ALIASES):
            return EVERYDAY.get(name, name)
    return "open_b"


def candidates(scene: Scene, limit: int = 3) -> list[tuple[Entry, str | tuple[str, ...] | Asked | None]]:
    """Codings that can make ``scene``, with the stroke direction (or a traced path's
    directions) to ask for, best first; a scene's stroke that arrives at its place goes as
    an ``Asked`` that arrives, and one from another place (``start``) leaves from there."""
    shape = _shape(scene)
    touched, neared = PLACE_LOCATIONS.get(scene.place, PLACE_LOCATIONS[None])
    locations = touched if scene.contact else neared
    if scene.place is not None and scene.arrive and not scene.contact:
        # a stroke up to the nose ends at the nose, not in the space before the face: the
        # plainest rise there was made in front of the head, 16 cm from the nose
        locations = tuple(loc for loc in locations if loc not in AWAY_LOCATIONS) or locations
    # a stroke from one place to another ("from the chin down to the chest") leaves from the
    # first and ends at the second (the lexicon's second location), both in the space before them
    second = "NA"
    if scene.start and scene.place and scene.start != scene.place:
        locations, second = _near(scene.start, START_LOCATIONS), _near(scene.place, {})[0]
    if scene.place is None and scene.action in UNPLACED:
        locations = (("AboveHead",) if scene.high else ()) + UNPLACED[scene.action]
    elif scene.place is None:
        locations = ("NeutralChest" if scene.hands == "both" else "BodyAway",) + locations
    moves = ACTION_MOVES.get(scene.action, ACTION_MOVES["hold"])
    want = scene.dirs[0] if scene.dirs else DEFAULT_DIRECTION.get(scene.action)
    if scene.action == "apart":
        want = scene.side            # each hand away from the midline: the signing hand goes its own way
    elif scene.action in ("together", "clap"):
        want = "left" if scene.side == "right" else "right"
    if scene.action == "path" and len(scene.dirs) >= 2:   # a traced path: through each direction in turn
        want = tuple(scene.dirs)
    if scene.then and scene.action in ("touch", "tap"):   # "touch the brow, then move down": a stroke off it
        repeated = scene.action == "tap" or scene.then_count > 1
        after = tuple((m, r or repeated) for m, r in ACTION_MOVES.get(scene.then, ()) if m != "None")
        moves = tuple(dict.fromkeys(after + (("Straight", repeated), ("Curved", repeated)) + tuple(moves)))
        want = (tuple(scene.then_dirs) if len(scene.then_dirs) >= 2 else scene.then_dirs[0] if scene.then_dirs
                else DEFAULT_DIRECTION.get(scene.then, want))
    if scene.arc:   # a stroke said to curve: the lexicon's curved movement first, repeated as asked
        repeated = any(r for m, r in moves if m not in ("None", "Circular"))
        moves = (("Curved", repeated),) + tuple(m for m in moves if m[0] != "Curved")
    if scene.hands == "base":
        base = scene.base_shape if scene.base_shape in H.HANDSHAPES or scene.base_shape in H.ALIASES else shape
        sign_type, nondominant = ("AsymmetricalSameHandshape" if base == shape else "AsymmetricalDifferentHandshape",
                                  base)
    else:
        sign_type, nondominant = SIGN_TYPE.get(scene.hands, "OneHanded"), shape if scene.hands == "both" else "NA"
    # palm to palm, as people clap; a thumbs-up shown in front of the body with its palm to the
    # midline, so that the thumb points up (the lexicon's codings leave both to chance)
    # two hands that part start together at the midline (``Asked.parting``), palm to palm
    # unless the text turns the palms
    parting = scene.action == "apart" and scene.hands == "both"
    facing = scene.action == "clap" or (parting and not scene.palm) or (
        scene.place is None and not scene.palm and V.HANDSHAPE_CONCEPT.get(scene.shape) == "thumb_fist")
    # an index finger said to point where it strokes ("point up") aims there
    point = want if scene.point and scene.place is None and isinstance(want, str) and want in DIRECTIONS \
        and V.HANDSHAPE_CONCEPT.get(scene.shape) == "index" else None
    out = []
    for (movement, repeated), location in _interleave(moves, locations):
        contact = "1" if scene.contact or scene.action in ("clap", "together") else "0"
        ph = Phonology(handshape=shape, selected_fingers=selected_fingers(shape), flexion="NA",
                       flexion_change="1" if scene.fingers in ("open", "close") else "0", spread="NA",
                       spread_change="0", thumb_position="NA",
                       thumb_contact="NA", sign_type=sign_type, movement=movement,
                       repeated_movement="1" if repeated or scene.count > 1 and movement != "None" else "0",
                       major_location="NA", minor_location=location,
                       second_minor_location=second if movement in ("Straight", "Curved") else "NA", contact=contact,
                       nondominant_handshape=nondominant, ulnar_rotation="0")
        stretch = REPEATED_STRETCH if ph.repeated else 1.0
        entry = Entry(entry_id=f"scene-{len(out)}", lemma_id="scene", translations=(), signbank_translations=(),
                      duration_ms=DURATION_MS * stretch, morphemes=(ph,), row=0, onset_ms=ONSET_MS,
                      offset_ms=OFFSET_MS + DURATION_MS * (stretch - 1), clip_ms=CLIP_MS + DURATION_MS * (stretch - 1))
        arrive = bool(scene.arrive and want and movement in ("Straight", "Curved"))
        asked = Asked(want, arrive, facing, point, parting) if arrive or facing or point or parting else want
        out.append((entry, asked))
        if len(out) == limit:
            break
    return out


def _near(place: str, named: dict) -> tuple[str, ...]:
    """The locations near ``place`` (``named``'s, else ``PLACE_LOCATIONS``'), not the space before it."""
    near = named.get(place) or PLACE_LOCATIONS[place][1]
    return tuple(loc for loc in near if loc not in AWAY_LOCATIONS) or near


def _interleave(moves, locations):
    """(move, location) pairs: every move at the likeliest location, then the rest."""
    return [(m, locations[0]) for m in moves] + [(m, loc) for loc in locations[1:] for m in moves]


def agreement(asked: Scene, got: Scene) -> float:
    """How much of ``asked`` the measured scene ``got`` shows, 0..1, by ``WEIGHTS``."""
    if asked.action == "touch" and asked.then and asked.then_count > 1 and got.action == "tap" and got.then:
        # "touch it, then move down twice": each return of the repeated stroke touches the
        # place again, which the cues count as taps; it is the asked touch and strokes
        got = replace(got, action="touch", count=1, then_count=got.count)
    if asked.action == "wave" and got.action == "back_forth" and got.dirs[:1] in (("left",), ("right",)):
        # the grammar calls a side-to-side swing a wave only with an open hand; "wag your index
        # finger" asks for the same swing, which the cues measure as strokes to one side and back
        got = replace(got, action="wave", dirs=())
    # "wave" with no number: any number of swings is a wave (the swings are the wave's own)
    counted = asked.count > 1 or got.count > 1 and not (asked.action == got.action == "wave")
    score = total = 0.0

    def part(name: str, ok: bool, weight: float | None = None) -> None:
        nonlocal score, total
        w = WEIGHTS[name] if weight is None else weight
        score += w * ok
        total += w

    part("hands", asked.hands == got.hands)
    if asked.place is not None or asked.action not in UNPLACED:
        # a wave asked at no place is made beside the head (``UNPLACED``), where the cues
        # may find it near the temple or the eye: that is where it was meant to be
        part("place", asked.place == got.place or _in_front_of_chest(asked, got))
    part("contact", asked.contact == got.contact)
    part("action", asked.action == got.action)
    if asked.dirs:
        part("dirs", got.dirs[:1] == asked.dirs[:1])
    if counted:
        part("count", asked.count == got.count)
    if asked.then:   # a stroke after the touch that was not asked for is the taps' own way back
        part("then", asked.then == got.then and got.then_dirs[:1] == asked.then_dirs[:1])
    return score / total if total else 1.0


def _in_front_of_chest(asked: Scene, got: Scene) -> bool:
    """Two hands asked to meet or part at no place are made in front of the chest
    (NeutralChest), where the cues may find them near it without touching: that is where
    they were meant to be."""
    return (asked.place is None and asked.hands == "both" and asked.action in ("together", "clap", "apart")
            and got.place == "chest" and not got.contact)


class Realizer:
    """Realizes scenes on one body (the mannequin unless given), holding its synthesizer
    and cue measurer; ``tries`` signers per coding."""

    def __init__(self, body=None, tries: int = 3):
        self.synth = Synthesizer(body)
        self.hms = HMS(self.synth.body)
        self.tries = tries

    def realize(self, scene: Scene, seed: int = 0, limit: int = 3, sample: int = 0, like: Signer | None = None,
                part: int = 0) -> Take:
        """The take of ``scene`` whose measured scene agrees best (ties: the first made)."""
        return self.realize_many(scene, seed, limit, sample, like, part)[0]

    def realize_many(self, scene: Scene, seed: int = 0, limit: int = 3, sample: int = 0,
                     like: Signer | None = None, part: int = 0) -> list[Take]:
        """Every take tried for ``scene``, best first. The signers come from (``seed``,
        ``sample``): a request's second sample is not another request's first. ``like``: a
        signer whose person (body shape, posture) and tempo every take keeps, for a later
        ``part`` of a take signed in turn."""
        rng = np.random.default_rng([seed, sample, 7919] + ([part] if part else []))
        left = scene.side == "left"
        items = []
        # two hands alternate in 40% of symmetric signs (the lexicon's way), which undoes "apart",
        # "together" and claps: twice the signers for them
        tries = self.tries * (2 if scene.hands == "both" else 1)
        for entry, want in candidates(scene, limit):
            for _ in range(tries):
                signer = Signer.sample(int(rng.integers(2 ** 31)), left_handed=left)
                if like is not None:
                    signer = replace(signer, betas=like.betas, posture=like.posture, person=like.person,
                                     tempo=like.tempo)
                if (wider := min(widening(scene) * scene.size, MOST_WIDENED)) != 1.0:
                    signer = replace(signer, amplitude=signer.amplitude * wider)
                if scene.tempo != 1.0 and like is None:   # "slowly", "quickly"; a later part keeps the first's
                    signer = replace(signer, tempo=signer.tempo * scene.tempo)
                items.append((entry, signer, want))
        takes, clearer, curved = [], [], []
        for (entry, signer, _), (motion, truth) in zip(items, self.synth.synthesize_many(items)):
            rot = R.np_axis_angle_to_matrix(motion.poses.astype(float))
            cues = self.hms.measure(motion, truth.sign_frames, rotations=rot)
            got = scene_for(entry.phonology, ending(cues, scene.side) if scene.arrive else cues, scene.side)
            if got.action in ("together", "clap") and parts_after_meeting(scene, cues):
                got = replace(got, action="apart", count=1)
            takes.append(Take(motion, got, agreement(scene, got), entry.phonology, truth.sign_frames, signer))
            clearer.append(clearness(scene, cues) + stroke_plainness(scene, motion, self.synth.body))
            # a stroke asked to curve: a take whose path a viewer sees arc (the fidelity measure's)
            curved.append(scene.arc and fidelity.movement(motion, self.synth.body, scene.side).path == "arc")
        # plainness to the centimetre: closer than that, the first made (likelier coding) wins
        order = sorted(range(len(takes)), key=lambda i: (-takes[i].agreement, -curved[i], -round(clearer[i], 2)))
        return [takes[i] for i in order]


def ending(cues, side: str):
    """``cues`` with the signing hand's places read from the end: the grammar's scene names
    the first place a hand touches or nears, where a stroke that arrives ends at its place."""
    hand = cues.hands.get(side)
    if hand is None:
        return cues
    return replace(cues, hands={**cues.hands, side: replace(hand, touch=hand.touch[::-1])})


PLAIN_PARTING = 0.15   # metres two hands part that nobody misreads; more does not make a take plainer
PLAIN_STROKE = 0.10    # metres a wrist travels the way asked that nobody misreads
TOUCHING = 0.01   # metres between the hands' nearest points: they touch
FACING = 0.3   # metres of travel that meeting hands' palms squarely facing each other are worth


def stroke_way(scene: Scene) -> str | None:
    """The one way a scene's stroke goes: a push, pull, rise, drop, sideways stroke or brush
    said one way, or the movement after a touch ("touch your chin, then move it forward")."""
    if scene.then and scene.action in ("touch", "tap"):
        dirs = scene.then_dirs or ((DEFAULT_DIRECTION[scene.then],) if scene.then in DEFAULT_DIRECTION else ())
    elif scene.action in ("push", "pull", "rise", "drop", "side", "brush") and not scene.then:
        dirs = scene.dirs or ((DEFAULT_DIRECTION[scene.action],) if scene.action in DEFAULT_DIRECTION else ())
    else:
        return None
    return dirs[0] if len(dirs) == 1 and dirs[0] in DIRECTIONS else None


def clearness(scene: Scene, cues) -> float:
    """Among takes that agree alike, how plainly one shows its movement (metres, larger is
    plainer). A two-handed meeting or parting: hands that come together or clap touch (as the
    data's "together" signs all do) after travelling toward each other, and meet palm to palm
    (``FACING`` for palms squarely facing); hands that move apart part. Either travel counts
    up to ``PLAIN_PARTING``: past it the first made wins, in front of the chest. The cues call
    a fingertip touch "together" even where the palms only go from 27 to 17 cm apart, or where
    both lie flat side by side, which nobody reads as hands coming together or a clap. 0 for
    every other scene, so the first made wins ties as before (``stroke_plainness`` adds a
    stroke one way)."""
    gap = cues.signals.get("hand_gap") if scene.hands == "both" else None
    if gap is None or scene.action not in ("together", "clap", "apart"):
        return 0.0
    t0, t1 = cues.frames
    gap = np.asarray(gap[t0:t1], dtype=float)
    if not len(gap):
        return 0.0
    if scene.action == "apart":   # parting this much is plain: the first made (in front of the chest) wins
        low = int(gap.argmin())
        return min(float(gap[low:].max() - gap[low]), PLAIN_PARTING)
    close = int(gap.argmin())
    travel = min(float(gap[:close + 1].max() - gap[close]), PLAIN_PARTING)
    plain = travel - (1.0 if gap[close] > TOUCHING else 0.0)   # hands that touch first, as the data's do
    # hands meet plainest palm to palm, not side by side with only the fingertips touching
    return plain + FACING * palms_facing(cues, t0 + close)


def stroke_plainness(scene: Scene, motion, body) -> float:
    """Among takes that agree alike, how plainly the signing wrist makes a stroke one way
    (``stroke_way``) over the sign as a viewer sees it (``fidelity.sign_window``, from the
    approach's end): at the wrist's farthest from where the sign starts, how far it went that
    way, up to ``PLAIN_STROKE``, less how much farther it went any other way. The cues measure
    the palm, which a turning forearm carried "forward" after a touch of the chin while the
    wrist went 13 cm across the body. 0 for other scenes."""
    way = stroke_way(scene) if scene.hands != "both" else None
    if way is None:
        return 0.0
    t0, t1 = fidelity.sign_window(motion, body, scene.side)
    if t1 <= t0:
        return 0.0
    path = fidelity.wrist_path(motion, body, scene.side)[t0:t1]
    moved = path - path[0]
    far = moved[int(np.linalg.norm(moved, axis=1).argmax())]   # where the wrist got farthest
    along = float(far @ DIRECTIONS[way])
    astray = float(np.linalg.norm(far - along * DIRECTIONS[way]))
    return min(along, PLAIN_STROKE) - max(0.0, astray - along)


def parts_after_meeting(scene: Scene, cues) -> bool:
    """Two hands asked to part that start together (``Asked.parting``) and then part by
    half ``PLAIN_PARTING`` at least: the cues call any sign whose hands touch "together" (or a
    clap, where the touch flickers as they leave), as the grammar writes it, where a viewer
    sees the hands part."""
    gap = cues.signals.get("hand_gap")
    if scene.action != "apart" or scene.hands != "both" or gap is None:
        return False
    t0, t1 = cues.frames
    gap = np.asarray(gap[t0:t1], dtype=float)
    if len(gap) < 2:
        return False
    low = int(gap.argmin())
    return low < len(gap) / 2 and float(gap[low:].max() - gap[low]) >= PLAIN_PARTING / 2


def palms_facing(cues, t: int) -> float:
    """How squarely the two palms face each other across the midline at frame ``t``: 1 palm
    to palm, 0 palms down (or up) side by side, -1 backs turned to each other."""
    right = cues.signals["right"].get("palm_normal")
    left = cues.signals["left"].get("palm_normal")
    if right is None or left is None:
        return 0.0
    return float((right[t] @ DIRECTIONS["left"] + left[t] @ DIRECTIONS["right"]) / 2)

