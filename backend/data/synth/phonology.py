"""What the synthesizer reads from a lexicon entry's phonological coding: whether it can be
signed at all (``check_phonology``), the handshapes' finger states and the handshape a
flexion change ends in, and which part of the hand makes contact. numpy only; never bpy.
"""
from __future__ import annotations

from .. import handshapes as H
from ..lexicon import Phonology
from .tables import LOCATIONS, MOVEMENTS, SIGN_TYPES


class SynthError(ValueError):
    """A lexicon entry that cannot be signed; the message names the reason."""


def check_phonology(ph: Phonology) -> None:
    """Raise SynthError naming the first coding this synthesizer cannot sign."""
    if ph.handshape in ("NA", "") or ph.handshape not in H.HANDSHAPES and ph.handshape not in H.ALIASES:
        raise SynthError(f"handshape {ph.handshape!r} is not coded or not known")
    if ph.sign_type not in SIGN_TYPES:
        raise SynthError(f"sign type {ph.sign_type!r} is not coded or not known")
    if ph.minor_location not in LOCATIONS:
        raise SynthError(f"minor location {ph.minor_location!r} is not coded or not known")
    if ph.movement not in MOVEMENTS:
        raise SynthError(f"movement {ph.movement!r} is not coded or not known")
    if SIGN_TYPES[ph.sign_type] == "base_other":
        nd = ph.nondominant_handshape
        if nd not in H.HANDSHAPES and nd not in H.ALIASES and nd not in ("NA", "DominanceConditionViolation",
                                                                         "SymmetryViolation"):
            raise SynthError(f"non-dominant handshape {nd!r} is not known")


def signable(ph: Phonology) -> bool:
    """Whether ``check_phonology`` passes (a compound's later morphemes are signed only then)."""
    try:
        check_phonology(ph)
        return True
    except SynthError:
        return False


_OPEN, _CLOSED = set("ELCb"), set("FTOKH")


def finger_state(shape_name: str) -> str:
    """'open', 'closed' or 'mixed' for a handshape, from its long fingers."""
    fingers = H.resolve(shape_name).fingers.values()
    if sum(f in _OPEN for f in fingers) >= 3:
        return "open"
    if sum(f in _CLOSED for f in fingers) >= 3:
        return "closed"
    return "mixed"


def changed_shape(name: str) -> str:
    """The handshape a FlexionChange ends in: open hands close, closed hands open."""
    state = finger_state(name)
    if state == "open":
        return "flat_o" if not H.resolve(name).spread else "s"
    if state == "closed":
        return "5" if H.resolve(name).spread else "open_b"
    return "s"


def contact_part(ph: Phonology, shape: str, kind: str) -> str:
    """Which part of the dominant hand touches: a fingertip, the palm or the fist's front."""
    hs = H.resolve(shape)
    selected = ph.selected_fingers if ph.selected_fingers not in ("NA", "") else "i"
    first = {"i": "index", "m": "middle", "r": "ring", "p": "pinky", "t": "thumb"}[selected[0]]
    if first != "thumb" and hs.fingers[first] in "FT":
        return "fist"
    if selected == "imrp" and all(s in "ELbB" for s in hs.fingers.values()) and kind in ("body", "hand", "arm"):
        return "palm"
    return f"{first}_tip"
