"""ASL-LEX phonology -> a signed SMPL-X ``Motion`` (25 fps, at most 3 s).

SignForge's own procedural signer. One sign is planned as a path of the dominant hand's
contact point (fingertip, palm or fist) through body-site targets, with a palm direction
and a finger direction at every frame; arm inverse kinematics (analytic two-bone solve,
the elbow hanging toward a natural pole, soft wrist limits, corrected until the contact
point lands) turns the path into shoulder, elbow and wrist rotations. The timeline is
rest -> approach -> sign (the lexicon's duration) -> return, eased so joint velocity never
jumps. A ``Signer`` (seeded) varies tempo, amplitude, location, tremor, body shape and
handedness. Every plan records its ground truth (sites touched, palm direction, stroke
directions, finger states) for the motion-cue checks. numpy + torch; never bpy.

This package re-exports the public names; the parts live in:

- ``tables``: frame rate, length, directions and the lexicon's location/movement/sign-type maps;
- ``phonology``: what a coding says (signable?, placement, handshapes, finger states, contact part);
- ``signer``: the seeded ``Signer`` and the ``Truth`` a sign records;
- ``maths``: small numpy helpers;
- ``arm``: the arm solver (analytic IK, Gauss-Newton refinement, clearance turn);
- ``batch``: the scheduler that runs many signs in step and batches their solves;
- ``signer_body``: one signer's rig, rest pose, skin and hand measures, cached per body;
- ``targets``: body sites as points and normals, the dominant target, the base hand's pose;
- ``orientation``: how the dominant hand is turned at its target;
- ``movement``: the dominant hand's path by movement type (``HandPath``);
- ``clearance``: the rounds that keep the hands out of the head and torso;
- ``timeline``: frames per phase, handshapes over the sign, the arms' legs, the poses;
- ``sign``: one sign assembled from all of these, with its ``Truth``;
- ``synthesizer``: ``Synthesizer``, batches of signs, left-handers and compounds.
"""
from __future__ import annotations

from .arm import ELBOW_MAX, JOINT_LIMITS, WRIST_LIMITS, WRIST_ORDER, Arm, hand_rotation
from .maths import ease
from .movement import Asked
from ..handshapes import finger_state
from .phonology import SynthError, check_phonology
from .signer import Signer, Truth, direction_label
from .synthesizer import Synthesizer, in_turn, signed_morphemes
from .tables import FPS, LOCATIONS, MAX_MORPHEMES, MAX_SECONDS, MOVEMENTS, POPULATION, SIGN_TYPES

__all__ = ["Arm", "Asked", "ELBOW_MAX", "FPS", "JOINT_LIMITS", "LOCATIONS", "MAX_MORPHEMES", "MAX_SECONDS", "MOVEMENTS",
           "POPULATION", "SIGN_TYPES", "Signer", "SynthError", "Synthesizer", "Truth", "WRIST_LIMITS",
           "WRIST_ORDER", "check_phonology", "direction_label", "ease", "finger_state", "hand_rotation", "in_turn",
           "signed_morphemes"]
