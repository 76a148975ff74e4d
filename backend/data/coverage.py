"""Which lexicon values the synthesizer maps, and which entries it signs (with reasons).

Every value of every phonological field that occurs in the file is listed with what it
maps to; entries the synthesizer cannot sign are listed with the reason. Nothing is
dropped silently. Pure Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import handshapes as H
from .lexicon import PHONOLOGY_FIELDS, Lexicon
from .synth import LOCATIONS, MOVEMENTS, SIGN_TYPES, SynthError, check_phonology

_BINARY = {"0": "no", "1": "yes", "NA": "not coded: treated as no"}
_ND_SPECIAL = {"NA": "no second hand shape: the dominant shape is used",
               "DominanceConditionViolation": "coded as a violation: the dominant shape is used",
               "SymmetryViolation": "coded as a violation: the dominant shape is used"}


def value_meaning(field_name: str, value: str) -> str | None:
    """What the synthesizer does with one value of one field; None when it is unknown."""
    if value == "NA" and field_name in ("Handshape", "SignType", "Movement", "MinorLocation"):
        return "not coded (later morphemes of some compounds): that morpheme is left out"
    if field_name in ("Handshape", "NonDominantHandshape"):
        if value in H.HANDSHAPES or value in H.ALIASES:
            return f"handshape {H.resolve(value).name}: {H.resolve(value).description}"
        return _ND_SPECIAL.get(value) if field_name == "NonDominantHandshape" else None
    if field_name in ("MinorLocation", "SecondMinorLocation"):
        if value in LOCATIONS:
            kind, site = LOCATIONS[value]
            return f"{kind} target {site}"
        return "no second location" if field_name == "SecondMinorLocation" and value == "NA" else None
    if field_name == "Movement":
        return f"{value} path" if value in MOVEMENTS else None
    if field_name == "SignType":
        return SIGN_TYPES.get(value)
    if field_name == "MajorLocation":
        return "implied by the minor location" if value in ("Head", "Arm", "Body", "Hand", "Neutral",
                                                            "Other", "NA") else None
    if field_name in ("SelectedFingers", "Flexion", "ThumbPosition"):
        return "carried by the handshape's finger table (used for the contact part)"
    if field_name in ("FlexionChange", "SpreadChange", "Spread", "ThumbContact", "RepeatedMovement",
                      "Contact", "UlnarRotation"):
        return _BINARY.get(value)
    return None


@dataclass
class Coverage:
    entries: int
    signed: int
    not_signed: list[tuple[str, str]] = field(default_factory=list)      # (entry id, reason)
    values: dict[str, dict[str, tuple[int, str | None]]] = field(default_factory=dict)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # rows the reader refused

    @property
    def fraction(self) -> float:
        return self.signed / self.entries if self.entries else 0.0

    def unknown_values(self) -> list[tuple[str, str, int]]:
        return [(f, v, n) for f, vals in self.values.items() for v, (n, m) in vals.items() if m is None]

    def lines(self) -> list[str]:
        out = [f"{self.signed} of {self.entries} entries synthesized ({100 * self.fraction:.1f}%)"]
        for f, vals in self.values.items():
            out.append(f"{f}: {len(vals)} values")
            for v, (n, meaning) in sorted(vals.items(), key=lambda kv: -kv[1][0]):
                out.append(f"  {v!r:32} {n:5d}  -> {meaning or 'UNKNOWN'}")
        if self.not_signed:
            out.append(f"not synthesized ({len(self.not_signed)}):")
            out += [f"  {eid}: {why}" for eid, why in self.not_signed]
        if self.problems:
            out.append(f"rows not read ({len(self.problems)}):")
            out += [f"  row {row} ({eid or '?'}): {why}" for row, eid, why in self.problems]
        return out


def coverage(lex: Lexicon) -> Coverage:
    """Compounds: the first two morphemes are signed in turn (34 entries have more)."""
    counts = lex.value_counts()
    values = {f: {v: (n, value_meaning(f, v)) for v, n in counts[f].items()} for f in PHONOLOGY_FIELDS}
    not_signed = []
    for e in lex.entries:
        try:
            check_phonology(e.phonology)
        except SynthError as err:
            not_signed.append((e.entry_id, str(err)))
    return Coverage(len(lex.entries), len(lex.entries) - len(not_signed), not_signed, values,
                    list(lex.problems))
