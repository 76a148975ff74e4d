"""Synthesize, measure, describe: a dictionary sign as a motion, its HMS cues and its texts.

The one owner of the sequence the data factory, ``signforge data synth`` and sentences of
dictionary entries all follow: the synthesizer signs (entry, signer) pairs as one batch,
HMS measures each motion over its sign frames (with the rotation matrices the features
use too), and the template translator writes texts from the cues. numpy + torch (through
the body model); never bpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..body import rotations as R
from ..body.features import pose_to_features
from ..motion.motion import Motion
from .hms import HMS, Cues
from .lexicon import Entry
from .synth import Signer, Synthesizer, Truth, signed_morphemes
from .text import Translator, texts_for


@dataclass(frozen=True)
class Signed:
    """One signed entry: the motion, what the synthesizer meant, its local rotation
    matrices (T, 55, 3, 3) and the cues HMS measured on it."""
    entry: Entry
    signer: Signer
    motion: Motion
    truth: Truth
    rotations: np.ndarray
    cues: Cues
    part_cues: tuple[Cues, ...] = ()    # a compound's: each morpheme's cues, over its own sign frames

    @property
    def dominant(self) -> str:
        return "left" if self.signer.left_handed else "right"

    def features(self) -> np.ndarray:
        """The 274-D features (T, 274), float32, from the same rotations the cues used."""
        return pose_to_features(self.rotations, self.motion.expression).astype(np.float32)

    def texts(self, rng: np.random.Generator, n: int = 1, translator: Translator | None = None, *,
              entry: Entry | None = None, word: str | None = None, paraphrase: int = 0) -> dict:
        """The three text conditions (``texts_for``) for the measured cues, written from
        ``entry``'s phonology (default: the entry signed) for the signer's dominant hand. A
        compound whose morphemes were each measured is described part by part (when ``entry``
        has as many signed morphemes as the motion has parts)."""
        entry = entry or self.entry
        morphemes = signed_morphemes(entry)
        parts = tuple(zip(morphemes, self.part_cues)) if len(morphemes) == len(self.part_cues) > 1 else ()
        return texts_for(entry, self.cues, self.dominant, rng, n, translator, word=word, paraphrase=paraphrase,
                         parts=parts)

    def text(self, rng: np.random.Generator, translator: Translator | None = None) -> str:
        """One free-text description of the motion ("" when the translator wrote none)."""
        texts = self.texts(rng, 1, translator)["phonology+hms"]
        return texts[0] if texts else ""


def sign_entries(synth: Synthesizer, hms: HMS, items: list[tuple[Entry, Signer]]) -> list[Signed]:
    """Sign every (entry, signer) pair as one synthesis batch and measure each motion.
    Raises SynthError for an entry the synthesizer cannot sign."""
    out = []
    for (entry, signer), (motion, truth) in zip(items, synth.synthesize_many(items)):
        rotations = R.np_axis_angle_to_matrix(motion.poses.astype(float))   # features and cues share them
        cues = hms.measure(motion, truth.sign_frames, rotations=rotations)
        parts = tuple(hms.measure(motion, w, rotations=rotations) for w in truth.parts)
        out.append(Signed(entry, signer, motion, truth, rotations, cues, parts))
    return out


def sign_entry(synth: Synthesizer, hms: HMS, entry: Entry, signer: Signer) -> Signed:
    """One entry signed and measured (``sign_entries`` of one pair)."""
    return sign_entries(synth, hms, [(entry, signer)])[0]
