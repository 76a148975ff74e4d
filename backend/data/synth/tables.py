"""The synthesizer's tables: frame rate and length, the body's directions, and what every
ASL-LEX location, movement and sign type maps to (body sites, kinds of sign, where a
symmetric sign's hands go, what a touch is called). Plain data; numpy only, never bpy.
"""
from __future__ import annotations

from ..hms import DIRECTIONS

FPS = 25.0
MAX_SECONDS = 4.0        # a sign with its approach and return; 100 frames, the models' max_frames
POPULATION = 48          # distinct signer bodies that Signer.sample draws from
MAX_MORPHEMES = 2        # compounds: the first two morphemes are signed
UP, DOWN, FRONT, BACK = (DIRECTIONS[d] for d in ("up", "down", "forward", "back"))
# Body's left is +X. The dominant hand is the right one (left-handers are mirrored).
SX = {"left": 1.0, "right": -1.0}
OTHER = {"left": "right", "right": "left"}

# ASL-LEX minor location -> (kind, site on the dominant "d" or non-dominant "n" side or
# a central site). Kinds: head, body, arm (on the other arm), hand (on the other hand),
# neutral, away (near a region, never touched).
LOCATIONS: dict[str, tuple[str, str]] = {
    "HeadTop": ("head", "head_top"), "Forehead": ("head", "forehead"), "Eye": ("head", "d_eye"),
    "CheekNose": ("head", "d_cheek"), "UpperLip": ("head", "lip_upper"), "Mouth": ("head", "mouth"),
    "Chin": ("head", "chin"), "UnderChin": ("head", "under_chin"), "Neck": ("body", "neck"),
    "Shoulder": ("body", "d_shoulder"), "Clavicle": ("body", "clavicle"),
    "TorsoTop": ("body", "chest"), "TorsoMid": ("body", "torso_mid"),
    "TorsoBottom": ("body", "stomach"), "Waist": ("body", "waist"), "Hips": ("body", "hip"),
    "UpperArm": ("arm", "n_upper_arm"), "ElbowFront": ("arm", "n_elbow_front"),
    "ElbowBack": ("arm", "n_elbow"), "ForearmBack": ("arm", "n_forearm"),
    "ForearmFront": ("arm", "n_forearm_inner"), "ForearmUlnar": ("arm", "n_forearm_ulnar"),
    "ForearmRadial": ("arm", "n_forearm"),
    "WristBack": ("arm", "n_wrist"), "WristFront": ("arm", "n_wrist_inner"),
    "Palm": ("hand", "n_palm"), "PalmBack": ("hand", "n_back_of_hand"),
    "FingerFront": ("hand", "n_finger_front"), "FingerBack": ("hand", "n_finger_back"),
    "FingerRadial": ("hand", "n_index_side"), "FingerUlnar": ("hand", "n_pinky_side"),
    "FingerTip": ("hand", "n_index_tip"), "Heel": ("hand", "n_heel"),
    "Neutral": ("neutral", "neutral"), "Other": ("neutral", "neutral"),
    "HeadAway": ("away", "face_away"), "BodyAway": ("away", "chest_away"),
    "HandAway": ("away", "hand_away"), "ArmAway": ("away", "arm_away"),
    "Away": ("away", "chest_away"), "OtherAway": ("away", "chest_away"),
    # not an ASL-LEX code: the space in front of the chest, each hand on its own side, where
    # texts put a two-handed sign with no place ("in front of the chest"); the planner's
    "NeutralChest": ("neutral", "neutral_chest"),
    # not an ASL-LEX code either: beside the head on the hand's own side, palm out and fingers
    # up, where people wave or wag a finger (the planner's; HeadAway is in front of the nose)
    "BesideHead": ("away", "beside_head"),
    # nor this: above the head on the hand's own side, the arm raised, where people wave "over
    # their head" (the planner's; a wave read at the forehead swung across the face)
    "AboveHead": ("away", "above_head"),
}
MOVEMENTS = ("Straight", "Curved", "Circular", "BackAndForth", "Z-shaped", "X-shaped", "Other", "None")
SIGN_TYPES = {
    "OneHanded": "one", "SymmetricalOrAlternating": "symmetric", "SymmetryViolation": "symmetric",
    "AsymmetricalSameHandshape": "base_same", "AsymmetricalDifferentHandshape": "base_other",
    "DominanceViolation": "base_other",
}

# Targets built between sites, snapped onto the skin.
ON_SURFACE = ("head_top", "under_chin", "clavicle", "torso_mid", "waist", "hip")
# Symmetric two-handed signs at a central site: where each hand goes instead.
SYMMETRIC_SITES = {"chest": "d_chest", "torso_mid": "d_chest", "forehead": "d_temple", "head_top": "d_temple",
                   "nose": "d_cheek", "mouth": "d_cheek", "lip_upper": "d_cheek", "chin": "d_cheek",
                   "under_chin": "d_cheek", "neck": "clavicle"}
# What a touch on the other hand is called in the cues.
HAND_REGIONS = {"n_palm": "left palm", "n_heel": "left palm", "n_back_of_hand": "left back of the hand",
                "n_finger_front": "left fingers", "n_finger_back": "left fingers", "n_index_side": "left fingers",
                "n_pinky_side": "left fingers", "n_index_tip": "left fingers"}
