"""What the synthesizer reads from a lexicon entry's phonological coding: whether it can be
signed at all (``check_phonology``), where the sign is made and by how many hands
(``Placement``), its handshapes (``Handshapes``, finger states, the handshape a flexion
change ends in), and which part of the hand makes contact. numpy only; never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import handshapes as H
from ..handshapes import changed_shape
from ..lexicon import Phonology
from .tables import LOCATIONS, MOVEMENTS, SIGN_TYPES
from blender_addon.core.errors import SignForgeError


class SynthError(SignForgeError, ValueError):
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


@dataclass(frozen=True)
class Placement:
    """Where a sign is made and what the other hand does.

    ``kind``: head, body, arm, hand, neutral or away (see ``tables.LOCATIONS``); ``site``:
    the body site, with "d_"/"n_" for the dominant/non-dominant side; ``two``: one,
    symmetric, base_same or base_other (the other hand holds still as a base).
    """
    kind: str
    site: str
    two: str

    @classmethod
    def of(cls, ph: Phonology, rng) -> "Placement":
        """The coding's placement. A sign on the other hand or arm needs that hand as a base;
        a two-handed contact sign coded in neutral space touches the other hand (a site drawn
        from ``rng``)."""
        kind, site = LOCATIONS[ph.minor_location]
        two = SIGN_TYPES[ph.sign_type]
        if kind in ("hand", "arm") and two in ("one", "symmetric"):
            two = "base_same"   # the other hand holds still to be touched
        if kind == "neutral" and ph.has_contact and two in ("base_same", "base_other"):
            kind, site = "hand", str(rng.choice(["n_palm", "n_back_of_hand", "n_index_side"]))
        return cls(kind, site, two)

    @property
    def on_signer(self) -> bool:
        """Whether the site is on the signer's body, arm or other hand (not in the space before it)."""
        return self.kind not in ("neutral", "away")


@dataclass(frozen=True)
class Handshapes:
    """The dominant hand's handshape and finger spread at the start and the end of a sign
    (they differ after a flexion or spread change)."""
    shape: str
    spread: bool
    shape2: str
    spread2: bool

    @classmethod
    def of(cls, ph: Phonology) -> "Handshapes":
        shape = H.resolve(ph.handshape).name
        spread = H.resolve(shape).spread if ph.spread not in ("0", "1") else ph.spread == "1"
        shape2 = changed_shape(shape) if ph.flexion_change == "1" else shape
        spread2 = (not spread) if ph.spread_change == "1" else (H.resolve(shape2).spread if shape2 != shape else spread)
        return cls(shape, spread, shape2, spread2)

    @property
    def changes(self) -> bool:
        return self.shape2 != self.shape or self.spread2 != self.spread

    def base(self, ph: Phonology, two: str) -> str:
        """The other hand's handshape when it is a base: the dominant one's, or its own coding."""
        nd = ph.nondominant_handshape
        if two == "base_same" or nd not in H.HANDSHAPES and nd not in H.ALIASES:
            return self.shape
        return H.resolve(nd).name
