"""A prompt that asks for one thing and then another: where it may go on to a next part.

"Touch your forehead with your index finger. Then push both spread hands forward" asks for
two signs in turn, as the grammar describes a compound (``data.text.join_parts``). Where a
text may start a next part is plain in its words: a sentence that opens with a link ("Then",
"After that,", "Next,", "Afterwards,", "Finally,") or a clause that goes on with ", and then"
or "; then" (``cuts``). Whether it does is the planner's to say from what the piece names
(its own handshape or place: ``Planner.read_parts``): "touch your chin, then lower it"
is one part whose movement follows the contact, and fingers that open or close after the
movement (``words.fingers_only``) are a change of the same hand. Pure Python.
"""
from __future__ import annotations

import re

# a new sentence that starts with a link, or a clause that goes on "and then" / "; then"
_LINKS = r"(?:and\s+then|then|after\s+that|after\s+this|next|afterwards|finally|second(?:ly)?)"
_CUT = re.compile(rf"(?P<sentence>(?<=[.!?;])\s+{_LINKS}\b[,:]?\s*)|,\s*(?:and\s+)?then\b[,:]?\s+"
                  rf"|\s+and\s+then\b[,:]?\s+|\s+and\s+after\s+that\b,?\s+"
                  r"|\s+and\s+after(?:wards)?\b,?\s+(?=(?:it|they|the|this|that|she|he)\b)", re.IGNORECASE)
# a piece that goes on along a path ("..., then toward the left, then down by the nose")
_GOES_ON = re.compile(r"^\s*(?:up|down|upwards?|downwards?|higher|lower|forwards?|ahead|out|outwards?|in|inwards?|"
                      r"back|backwards?|away|across|over|around|left|right|leftwards?|rightwards?|sideways|"
                      r"to|toward|towards|into|onto)\b"
                      # ...or does it again ("once, then again", "and then once more with the fist")
                      r"|^\s*(?:again|once\s+(?:again|more)|one\s+more\s+time)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s")
# a word for the signing hand ("your index finger", "both spread hands", "a fist"), and the
# other hand held still, which names none of the signing hand ("the left hand held still")
_HAND_WORD = re.compile(r"\b(?:hands?|fists?|fingers?|forefinger|pointer|index|thumbs?|claws?|both)\b",
                        re.IGNORECASE)
# clauses that name a hand but start nothing: the other hand held still, the fingers opening
# or closing, the palm turning ("as your fingers open", "with the palm facing down")
_ASIDES = re.compile(r"[^,.;]*\b(?:other|left|right|non-?dominant|base|weak)\b[^,.;]*\b(?:still|rests?|"
                     r"resting|down|side|base|idle|relaxed|lowered|waits?|waiting|stays?|passive)\b[^,.;]*"
                     r"|[^,.;]*\b(?:fingers?|hand)\s+(?:open|opens|opening|close|closes|closing|spread|spreads|"
                     r"spreading|curl|curls|curling)\b[^,.;]*|[^,.;]*\bpalms?\b[^,.;]*", re.IGNORECASE)


def without_asides(text: str) -> str:
    """``text`` without its clauses that name a hand but start nothing (``_ASIDES``: the other
    hand held still, the fingers opening, the palm turning)."""
    return _ASIDES.sub(" ", text)


def cuts(text: str) -> list[tuple[int, int, bool]]:
    """Where ``text`` may go on to a next part: (start, end, whether a new sentence starts
    there) of each link ("Then", ", and then"), in order. The piece after a cut starts at its end."""
    return [(m.start(), m.end(), bool(m.group("sentence"))) for m in _CUT.finditer(text)
            if m.start() > 0 and m.end() < len(text.rstrip())]


def first_sentence(piece: str) -> str:
    """``piece`` up to the end of its first sentence (later ones say what the other hand does)."""
    return _SENTENCE_END.split(piece, maxsplit=1)[0]


def goes_on(piece: str) -> bool:
    """Whether ``piece`` goes on with the movement before it: along its path ("then toward the
    left") or once more ("then again")."""
    return bool(_GOES_ON.match(piece))


# the hand already signing, named as such: "then move the hand forward", "your hand"
_SAME_HAND = re.compile(r"\b(?:the|your|that|this|his|her|their|my)\s+(?:same\s+)?hand\b", re.IGNORECASE)
# the hand already signing, pointed back at whatever its shape: "then point that finger forward"
_BACK_HAND = re.compile(r"\b(?:that|this|the\s+same)\s+(?:hand|fist|finger|index(?:\s+finger)?|thumb|pointer)\b",
                        re.IGNORECASE)


def names_hand(piece: str, shaped: bool = True) -> bool:
    """Whether ``piece`` names the signing hand ("your index finger", "both spread hands"),
    its asides aside (the other hand held still, the fingers opening or closing, the palm's way)
    and the hand already signing pointed back at ("then point that finger forward"), and,
    where the piece gives it no shape (``shaped`` False), the hand already signing ("then
    move the hand forward": the index finger that touched; "then sweep your hand, shaped as a C"
    names one)."""
    piece = _BACK_HAND.sub(" ", piece)
    return bool(_HAND_WORD.search(without_asides(piece if shaped else _SAME_HAND.sub(" ", piece))))


def pieces(text: str, kept: list[tuple[int, int, bool]]) -> list[str]:
    """``text`` cut at the ``kept`` links (each left out): the parts' own texts, each written as
    a sentence; with no link kept, ``text`` exactly as given (the parser reads "the right hand,
    shaped as a fist, taps ..." and "The right hand, shaped as a fist, taps ....", differently)."""
    if not kept:
        return [text]
    out, start = [], 0
    for a, b, _ in kept:
        out.append(text[start:a])
        start = b
    out.append(text[start:])
    return [_sentence(p) for p in out]


def _sentence(piece: str) -> str:
    piece = piece.strip().rstrip(",;:")
    if not piece:
        return piece
    piece = piece[0].upper() + piece[1:]
    return piece if piece.endswith((".", "!", "?")) else piece + "."
