"""The synthesizer's entry point: ``Synthesizer`` signs lexicon entries on one body, many
at once (see ``batch``), mirrors left-handed signers, and joins a compound's morphemes
into one motion. numpy + torch (the body model); never bpy.
"""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from ...body.model import Body
from ...body.skeleton import NUM_EXPRESSION
from ...motion.motion import Motion
from .. import handshapes as H
from ..lexicon import Entry, Phonology
from .batch import drive
from .maths import ease
from .movement import Asked
from .phonology import check_phonology, signable
from .sign import sign
from .signer import Signer, Truth, dedup
from .signer_body import SignerBody
from .tables import FPS, MAX_MORPHEMES, MAX_SECONDS, OTHER
from .timeline import SETTLE, travel_frames

PART_GAP = 8   # frames of eased travel from one sign's (a morpheme's) last pose to the next one's first


def mirrored_way(way: str | tuple[str, ...] | Asked) -> str | tuple[str, ...] | Asked:
    """A stroke direction (or a path's, or an ``Asked`` stroke) for the other hand: left and right swap."""
    if isinstance(way, Asked):
        return way.mapped(lambda w: OTHER.get(w, w))
    return OTHER.get(way, way) if isinstance(way, str) else tuple(OTHER.get(w, w) for w in way)


class Synthesizer:
    """Signs lexicon entries on one body (the mannequin or a user's SMPL-X model)."""

    def __init__(self, body: Body | None = None):
        self.body = body if body is not None else Body.load()
        H.left_hand_pose("lax")  # solve (or read) the handshape table once
        self._cache: dict = {}

    # -- public -----------------------------------------------------------------
    def synthesize(self, entry: Entry, signer: Signer | int = 0) -> tuple[Motion, Truth]:
        return self.synthesize_many([(entry, signer)])[0]

    def synthesize_many(self, items) -> list[tuple[Motion, Truth]]:
        """Sign many (entry, signer) pairs at once; the same results as one by one. An item
        may carry a third element, the stroke direction a text asked for (see ``sign``), as
        the motion shows it (a left-handed signer's is mirrored into the right-handed frame).

        Each sign is a generator that stops at its arm solves; all signs advance in step
        and each round's solves run as one batch, which takes the numpy call overhead
        out of the per-sign cost.
        """
        if len(self._cache) > 20000:
            self._cache.clear()
        signs = []
        for entry, signer, *want in items:
            signer = signer if isinstance(signer, Signer) else Signer.sample(int(signer))
            check_phonology(entry.phonology)
            way = want[0] if want else None
            if way and signer.left_handed:
                way = mirrored_way(way)
            signs.append((self._sign(entry, signer, way), signer))
        results = drive([g for g, _ in signs])
        return [(motion.mirror(), truth.mirrored()) if signer.left_handed else (motion, truth)
                for (motion, truth), (_, signer) in zip(results, signs)]

    def _sign(self, entry: Entry, signer: Signer, want: str | tuple[str, ...] | Asked | None = None):
        parts = signed_morphemes(entry)
        figure = SignerBody(self.body, signer, self._cache)
        if len(parts) > 1:
            return (yield from self._compound(figure, entry, parts, signer))
        rng = np.random.default_rng([signer.seed, stable_hash(entry.entry_id)])
        return (yield from sign(figure, entry, entry.phonology, signer, rng, want))

    def _compound(self, figure: SignerBody, entry: Entry, parts: list[Phonology], signer: Signer):
        """A compound sign: each morpheme signed in turn (its share of the duration), the
        hands going straight from one morpheme to the next, fitted into MAX_SECONDS."""
        n = len(parts)
        fixed = 8 + 2 * travel_frames(signer.tempo) + n * SETTLE + (n - 1) * PART_GAP   # rest, approach, settles...
        frames = min(entry.duration_ms / 1000 * signer.tempo * FPS / n, (MAX_SECONDS * FPS - fixed) / n)
        share = max(frames, 10) / (signer.tempo * FPS) * 1000   # ms of sign per morpheme
        pieces = []
        for k, ph in enumerate(parts):
            rng = np.random.default_rng([signer.seed, stable_hash(entry.entry_id), k])
            part = replace(entry, duration_ms=share, morphemes=(ph,))
            pieces.append((yield from sign(figure, part, ph, signer, rng)))
        motion, windows = in_turn([(m, t.sign_frames) for m, t in pieces])
        truth = pieces[0][1]
        for _, t in pieces[1:]:
            truth.handshape["right"] = dedup(truth.handshape["right"] + t.handshape["right"])
            truth.strokes["right"] = truth.strokes["right"] + t.strokes.get("right", [])
        truth.sign_frames = (windows[0][0], windows[-1][1])
        limit = int(MAX_SECONDS * FPS)
        if motion.num_frames > limit:   # too long: play it faster, frames mapped along
            scale = (limit - 1) / (motion.num_frames - 1)
            motion = motion._sample(np.arange(limit) / scale)
            truth.sign_frames = tuple(int(round(f * scale)) for f in truth.sign_frames)
            windows = [tuple(int(round(f * scale)) for f in w) for w in windows]
            for tg in truth.targets.values():
                tg["frame"] = int(round(tg["frame"] * scale))
        truth.parts = tuple((int(a), int(b)) for a, b in windows)
        return motion, truth


def in_turn(signs: list[tuple[Motion, tuple[int, int]]]) -> tuple[Motion, list[tuple[int, int]]]:
    """Signs made one after another as one motion, as a compound's morphemes are: each (motion,
    its sign frames) cut at the end of its sign but the last (which keeps its return to rest),
    each next one taken from its settle, joined by ``PART_GAP`` frames of eased travel. All
    take the first one's body shape. Returns the motion and each sign's frames in it."""
    motion, (start, end) = signs[0]
    motion = motion.cut(0, end)                          # up to the end of its sign (the return cut)
    windows = [(start, end)]
    for k, (m, (s0, s1)) in enumerate(signs[1:], 1):
        start = max(0, s0 - SETTLE)                      # from its settle (the approach cut)
        ends = Motion(np.stack([motion.poses[-1], m.poses[start]]), np.zeros((2, 3)),
                      np.zeros((2, NUM_EXPRESSION)), fps=FPS)
        travel = ends._sample(ease(np.arange(1, PART_GAP + 1) / (PART_GAP + 1)))
        offset = motion.num_frames + PART_GAP - start
        rest = m.cut(start) if k == len(signs) - 1 else m.cut(start, s1)
        motion = motion.concat(travel.with_(betas=motion.betas)).concat(rest.with_(betas=motion.betas))
        windows.append((s0 + offset, min(s1 + offset, motion.num_frames)))
    return motion, windows


def signed_morphemes(entry: Entry) -> list[Phonology]:
    """The morphemes the synthesizer signs, in turn: the entry's first and, for a compound, the
    later ones it can sign, up to ``MAX_MORPHEMES``."""
    return [entry.phonology] + [m for m in entry.morphemes[1:MAX_MORPHEMES] if signable(m)]


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (``hash`` is salted per process)."""
    return zlib.crc32(text.encode())
