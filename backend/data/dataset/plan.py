"""Build planning: every sample of a dataset, its shard and its synthesis batch, from the seed alone.

``plan(lexicon, config)`` is a pure function: the same lexicon and ``BuildConfig`` give
the same ``Spec`` per sample (word, true dictionary entry, candidates, split, signer,
seeds), so any sample can be redrawn and a build can resume anywhere. Splits follow the
paper: ``train`` and ``test_seen`` share words; ``test_unseen`` holds ~10% of the words
never seen in training. Two word-level sets mirror SignAvatar's ASL3DWord (30 and 103
words, >= 15 samples per word from varied signers, split 8:2). ``shard_jobs`` groups the
shards into synthesis batches that depend on the plan alone. numpy only; never torch or bpy.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from blender_addon.core.limits import MAX_BUILD_SAMPLES, MAX_WORD_SET_SIZE, MAX_WORD_SETS

from ..lexicon import Lexicon
from ..synth import SynthError, check_phonology
from ..vocab import TextSplit
from .format import DatasetError, ShardFiles

MAX_SHARDS_PER_BATCH = 8   # shards synthesized together (bigger batches cost less per sample)


@dataclass(frozen=True)
class BuildConfig:
    out: str
    lexicon: str | None = None
    samples: int = 1000
    seed: int = 0
    workers: int = 0   # 0: one per core free when the build starts (backend.threads)
    shard_size: int = 128                   # samples per file, and per synthesis batch (bigger batches run faster)
    texts_per_sample: int = 3
    assign: str = "random"                  # random | retrieval
    unseen_fraction: float = 0.1
    test_seen_fraction: float = 0.1
    word_sets: tuple[int, ...] = (30, 103)
    word_set_samples: int = 15
    left_handed_fraction: float = 0.25      # signers who sign with the left hand (texts say so)
    retrieval_run: str | None = None        # a THMR run folder, for assign="retrieval"
    paraphrase_style: str = ""              # the text style family held out for paraphrases ("": from the seed)

    def __post_init__(self) -> None:
        """Every size checked before planning: a typo must not fill the disk."""
        def within(name: str, value, low, high) -> None:
            if not (isinstance(value, (int, float)) and low <= value <= high):
                raise DatasetError(f"{name} must be between {low} and {high}; got {value!r}")

        within("samples", self.samples, 1, MAX_BUILD_SAMPLES)
        within("shard_size", self.shard_size, 1, 4096)
        within("texts per sample", self.texts_per_sample, 1, 16)
        within("word-set samples", self.word_set_samples, 1, 100)
        within("the number of word sets", len(self.word_sets), 0, MAX_WORD_SETS)
        for n in self.word_sets:
            within("a word set's size", n, 1, MAX_WORD_SET_SIZE)
        for name in ("unseen_fraction", "test_seen_fraction", "left_handed_fraction"):
            within(name, getattr(self, name), 0.0, 1.0)

    def plan_key(self) -> dict:
        """What the plan depends on (workers and the output folder do not change the data)."""
        d = asdict(self)
        for k in ("out", "workers", "lexicon"):
            d.pop(k)
        return d


@dataclass(frozen=True)
class Spec:
    """One planned sample: what to sign and by whom, before anything is synthesized."""
    id: str
    word: str
    entry: str                      # the true dictionary entry
    candidates: tuple[str, ...]     # the word's signable variants, assignment picks among them
    split: str
    signer_seed: int
    left_handed: bool
    word_sets: tuple[str, ...]
    assign_seed: int

    def as_json(self) -> dict:
        """The spec as its record's first keys, and as the plan hash reads it."""
        d = asdict(self)
        d["candidates"], d["word_sets"] = list(self.candidates), list(self.word_sets)
        return d


@dataclass(frozen=True)
class ShardJob:
    """One shard to make: its samples and files; ``write`` is False for a shard that is
    already on disk but shares a synthesis batch with one that is not."""
    index: int
    specs: tuple[Spec, ...]
    files: ShardFiles
    write: bool


def synthesizable(lex: Lexicon) -> tuple[set[str], dict[str, str]]:
    """Entry ids the synthesizer can sign, and the reason for each one it cannot."""
    ok, why = set(), {}
    for e in lex.entries:
        try:
            check_phonology(e.phonology)
            ok.add(e.entry_id)
        except SynthError as err:
            why[e.entry_id] = str(err)
    return ok, why


def text_split(cfg: BuildConfig) -> TextSplit:
    """The style family and synonyms this build keeps out of training texts (from the seed)."""
    try:
        return TextSplit.from_seed(cfg.seed, cfg.paraphrase_style)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None


def keyed_rng(*keys) -> np.random.Generator:
    """A generator seeded by its keys alone (names, seeds, ids), so any sample can be redrawn."""
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def split_words(names: list[str], seed: int, fraction: float, minimum: int = 1) -> tuple[set[str], list[str]]:
    """The words held out as ``test_unseen`` (``fraction`` of ``names``, at least ``minimum``)
    and the rest in a seeded order; the same names and seed always give the same split."""
    order = list(keyed_rng("split", seed).permutation(len(names)))
    n_unseen = max(minimum, int(round(fraction * len(names))))
    return {names[i] for i in order[:n_unseen]}, [names[i] for i in order[n_unseen:]]


def plan(lex: Lexicon, cfg: BuildConfig) -> list[Spec]:
    """Every sample of the dataset as a small spec; a pure function of the lexicon and config."""
    if cfg.samples < 1:
        raise DatasetError(f"--samples must be at least 1; got {cfg.samples}")
    if cfg.assign not in ("random", "retrieval"):
        raise DatasetError(f"--assign must be random or retrieval; got {cfg.assign!r}")
    text_split(cfg)
    ok, _ = synthesizable(lex)
    words = {w: [e for e in ids if e in ok] for w, ids in lex.word_candidates().items()}
    words = {w: ids for w, ids in words.items() if ids}
    names = sorted(words)
    if len(names) < 10:
        raise DatasetError(f"the lexicon has only {len(names)} signable words; need at least 10")
    unseen, seen = split_words(names, cfg.seed, cfg.unseen_fraction)
    specs = []
    for i in range(cfg.samples):
        r = keyed_rng("sample", cfg.seed, i)
        word = names[int(r.integers(len(names)))]
        split = "test_unseen" if word in unseen else ("test_seen" if r.random() < cfg.test_seen_fraction
                                                      else "train")
        specs.append(_spec(f"s{i:07d}", word, words[word], split, r, cfg, []))
    # Word-level sets (ASL3DWord-like): one fixed variant per word, many signers, 8:2.
    biggest = max(cfg.word_sets) if cfg.word_sets else 0
    if biggest:
        pool = [w for w in seen if " " not in w]
        pick = [pool[i] for i in keyed_rng("wordsets", cfg.seed).permutation(len(pool))[:biggest]]
        for rank, word in enumerate(pick):
            sets = [f"w{n}" for n in cfg.word_sets if rank < n]
            for k in range(cfg.word_set_samples):
                r = keyed_rng("wordset", cfg.seed, word, k)
                split = "train" if k < int(round(0.8 * cfg.word_set_samples)) else "test"
                specs.append(_spec(f"w{rank:03d}_{k:02d}", word, words[word][:1], f"word_{split}", r, cfg, sets))
    return specs


def _spec(sid, word, candidates, split, r, cfg, sets) -> Spec:
    # the draws' order is the plan's: entry, signer, handedness, assignment
    entry = candidates[int(r.integers(len(candidates)))]
    signer_seed = int(r.integers(2 ** 31))
    left_handed = bool(r.random() < cfg.left_handed_fraction)
    return Spec(sid, word, entry, tuple(candidates), split, signer_seed, left_handed, tuple(sets),
                int(r.integers(2 ** 31)))


def plan_hash(cfg: BuildConfig, specs: list[Spec]) -> str:
    """The fingerprint a dataset folder keeps in plan.json: another plan must not resume it."""
    return hashlib.sha256(json.dumps([cfg.plan_key(), [s.as_json() for s in specs]], sort_keys=True)
                          .encode()).hexdigest()


def shard_batches(shards: int) -> list[range]:
    """Shard indices grouped into synthesis batches of near-equal sizes: at most
    MAX_SHARDS_PER_BATCH shards each, an even number of batches (two workers finish
    together), at least four when there are enough shards. The grouping depends on the
    plan alone, not on the workers or on which shards exist, so a shard rebuilt on resume
    comes from the same batch as it first did, bit for bit."""
    count = max(min(shards, 4), -(-shards // MAX_SHARDS_PER_BATCH))
    if count < shards:
        count = min(shards, count + count % 2)
    bounds = np.linspace(0, shards, count + 1).round().astype(int)
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def shard_jobs(specs: list[Spec], cfg: BuildConfig, out: Path) -> list[list[ShardJob]]:
    """The synthesis batches still to run in ``out``: each a list of its shards, those on
    disk marked not to be written again. A batch whose shards all exist is left out."""
    shards = [ShardJob(k, tuple(specs[start:start + cfg.shard_size]), ShardFiles.of(out, k), False)
              for k, start in enumerate(range(0, len(specs), cfg.shard_size))]
    shards = [ShardJob(s.index, s.specs, s.files, not s.files.exist()) for s in shards]
    batches = [[shards[k] for k in batch] for batch in shard_batches(len(shards))]
    return [batch for batch in batches if any(job.write for job in batch)]
