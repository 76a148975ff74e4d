"""The data factory's dataset builder: lexicon -> sharded motions, texts, splits and stats.

``build(config)`` plans every sample from the seed alone (word, true dictionary entry,
signer, split), then synthesizes shards in worker processes. Each shard is a pair of files
written atomically: ``shard-NNNNN.npz`` (274-D features, SMPL-X poses, lengths, betas) and
``shard-NNNNN.jsonl`` (ids, words, entries, texts for the three conditions, HMS cues,
signer, word sets). A finished shard is never redone, so an interrupted build resumes
where it stopped and gives the same bytes as an uninterrupted one. Two clean builds with
the same seed give the same plan, texts and cues, and features equal to float rounding
(two clean builds were measured about 1e-10 apart; bytes are not promised). Normalization statistics
come from the train split at the end, summed in shard order.

Splits follow the paper: ``train`` and ``test_seen`` share words; ``test_unseen`` holds
~10% of English words never seen in training. Two word-level sets mirror SignAvatar's
ASL3DWord (30 and 103 words, >= 15 samples per word from varied signers, split 8:2).
Variant assignment picks, for a word with several dictionary variants, whose phonology
the sample's text is written from: ``random`` here, ``retrieval`` with any scorer that
implements ``MotionTextScorer`` (THMR, from the models issue). The true entry is kept so
assignment accuracy can be measured. A quarter of the signers are left-handed (mirrored,
and their texts name the left hand). Test records also carry ``paraphrase`` texts in the
style family and with the synonyms that no training text uses (``dataset.json`` names
them; the seed picks them). numpy + torch; never bpy.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from blender_addon.core.limits import MAX_BUILD_SAMPLES, MAX_WORD_SET_SIZE, MAX_WORD_SETS

from ..atomic import atomic_path
from ..threads import free_cores
from ..body import rotations as R
from ..body.features import pose_to_features
from .lexicon import Lexicon, read_lexicon, resolve_lexicon_path
from .synth import SynthError, check_phonology
from .text import PARAPHRASE
from .vocab import TextSplit
from blender_addon.core.errors import SignForgeError

FORMAT_VERSION = 1
LICENCE_NOTE = ("Motions and texts are derived from ASL-LEX 2.0 (CC BY-NC 4.0): "
                "non-commercial use only, with attribution to the ASL-LEX authors.")
SPLITS = ("train", "test_seen", "test_unseen")
PARAPHRASE_SPLITS = ("test_seen", "test_unseen")   # records that also carry held-out paraphrase texts


class DatasetError(SignForgeError, ValueError):
    """A dataset request or folder that cannot be honoured; the message names why."""


class MotionTextScorer(Protocol):
    """A text-motion retrieval model: higher scores mean a better match."""

    def score(self, features: np.ndarray, texts: list[str]) -> np.ndarray: ...


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


# ------------------------------------------------------------------------ planning

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


def plan(lex: Lexicon, cfg: BuildConfig) -> list[dict]:
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
                spec = _spec(f"w{rank:03d}_{k:02d}", word, words[word][:1], f"word_{split}", r, cfg, sets)
                specs.append(spec)
    return specs


def _spec(sid, word, candidates, split, r, cfg, sets) -> dict:
    return {"id": sid, "word": word, "entry": candidates[int(r.integers(len(candidates)))],
            "candidates": list(candidates), "split": split, "signer_seed": int(r.integers(2 ** 31)),
            "left_handed": bool(r.random() < cfg.left_handed_fraction), "word_sets": sets,
            "assign_seed": int(r.integers(2 ** 31))}


# ------------------------------------------------------------------------ assignment

class RandomAssigner:
    """Pick any candidate variant of the word: the paper's baseline."""
    mode = "random"

    def assign(self, spec: dict, features: np.ndarray, describe: Callable[[str], str]) -> str:
        cands = spec["candidates"]
        return cands[int(np.random.default_rng(spec["assign_seed"]).integers(len(cands)))]


class RetrievalAssigner:
    """Pick the candidate whose dictionary description the retrieval model scores highest."""
    mode = "retrieval"

    def __init__(self, scorer: MotionTextScorer):
        self.scorer = scorer

    def assign(self, spec: dict, features: np.ndarray, describe: Callable[[str], str]) -> str:
        cands = spec["candidates"]
        if len(cands) == 1:
            return cands[0]
        scores = np.asarray(self.scorer.score(features, [describe(c) for c in cands]), float)
        if scores.shape != (len(cands),):
            raise DatasetError(f"the retrieval model returned {scores.shape} scores for {len(cands)} texts")
        return cands[int(np.argmax(scores))]


def make_assigner(mode: str, scorer: MotionTextScorer | None = None):
    if mode == "random":
        return RandomAssigner()
    if mode == "retrieval":
        if scorer is None:
            raise DatasetError("--assign retrieval needs a retrieval model (THMR); none was given. "
                           "Use --assign random, or pass --retrieval-model RUN_DIR (signforge train thmr).")
        return RetrievalAssigner(scorer)
    raise DatasetError(f"unknown assignment mode {mode!r}; choose random or retrieval")


# ------------------------------------------------------------------------ workers

class ShardWorker:
    """Synthesizes shards; one per process (it holds the body, the synthesizer and HMS)."""

    def __init__(self, lexicon_path: str, cfg: BuildConfig, scorer: MotionTextScorer | None = None):
        from ..body.model import Body
        from .hms import HMS
        from .synth import Synthesizer

        self.lex = read_lexicon(lexicon_path)
        self.by_id = self.lex.by_id()
        self.cfg = cfg
        body = Body.load()
        self.synth = Synthesizer(body)
        self.hms = HMS(body)
        if scorer is None and cfg.assign == "retrieval" and cfg.retrieval_run:
            from ..models.thmr import THMRScorer

            scorer = THMRScorer.load(cfg.retrieval_run)
        self.assigner = make_assigner(cfg.assign, scorer)
        self._dictionary: dict[str, str] = {}
        from .text import TemplateTranslator

        self.translator = TemplateTranslator(text_split(cfg))

    def describe_entry(self, entry_id: str) -> str:
        """A dictionary variant's own description (canonical signer), for retrieval assignment."""
        if entry_id not in self._dictionary:
            from .synth import Signer
            from .text import texts_for

            entry = self.by_id[entry_id]
            motion, truth = self.synth.synthesize(entry, Signer(seed=0))
            cues = self.hms.measure(motion, truth.sign_frames)
            self._dictionary[entry_id] = texts_for(entry, cues, "right", np.random.default_rng(0), 1,
                                                   self.translator)["phonology+hms"][0]
        return self._dictionary[entry_id]

    def sample(self, spec: dict):
        return self.samples([spec])[0]

    def samples(self, specs: list[dict]) -> list[tuple]:
        """(record, features, poses, betas) per spec; the motions are synthesized as one batch."""
        from .synth import Signer
        from .text import texts_for

        signers = [Signer.sample(s["signer_seed"], left_handed=s["left_handed"]) for s in specs]
        signed = self.synth.synthesize_many([(self.by_id[s["entry"]], g) for s, g in zip(specs, signers)])
        out = []
        for spec, signer, (motion, truth) in zip(specs, signers, signed):
            rotations = R.np_axis_angle_to_matrix(motion.poses.astype(float))   # features and cues share them
            features = pose_to_features(rotations, motion.expression).astype(np.float32)
            cues = self.hms.measure(motion, truth.sign_frames, rotations=rotations)
            assigned = self.assigner.assign(spec, features, self.describe_entry)
            dominant = "left" if signer.left_handed else "right"
            n = self.cfg.texts_per_sample
            texts = texts_for(self.by_id[assigned], cues, dominant, np.random.default_rng(spec["assign_seed"]), n,
                              self.translator, word=spec["word"],
                              paraphrase=n if spec["split"] in PARAPHRASE_SPLITS else 0)
            styles = texts.pop("styles")
            record = dict(spec, assigned=assigned, assignment=self.assigner.mode, texts=texts, text_styles=styles,
                          hms=cues.as_dict(), frames=motion.num_frames, sign_frames=list(truth.sign_frames),
                          dominant=dominant,
                          signer={"tempo": signer.tempo, "amplitude": signer.amplitude,
                                  "betas": [round(float(b), 4) for b in signer.betas]})
            out.append((record, features, motion.poses, motion.betas))
        return out

    def shards(self, jobs: list[tuple]) -> int:
        """Make a batch of shards, each job (specs, npz path, jsonl path, write?): all of their
        samples are synthesized as one batch, and the shards marked are written. Returns the
        number of samples written."""
        made = iter(self.samples([spec for specs, *_ in jobs for spec in specs]))
        written = 0
        for specs, npz, jsonl, write in jobs:
            samples = [next(made) for _ in specs]
            if write:
                written += write_shard(samples, Path(npz), Path(jsonl))
        return written

def _motion_sums(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per motion (T, D), the sum of its frames' features and of their squares (N, D), in float64."""
    wide = [f.astype(np.float64) for f in feats]
    dim = feats[0].shape[-1] if feats else 0
    return (np.array([f.sum(0) for f in wide]).reshape(len(wide), dim),
            np.array([np.einsum("ij,ij->j", f, f) for f in wide]).reshape(len(wide), dim))


def write_shard(samples: list[tuple], path_npz: Path, path_jsonl: Path,
                extra: dict[str, list[np.ndarray]] | None = None) -> int:
    """Write one shard from (record, features, poses, betas) per sample, each file atomically;
    ``extra`` adds per-frame arrays (one per sample, aligned with the features) to the npz.
    Returns the number of samples."""
    records, feats, poses, betas = [], [], [], []
    for rec, f, p, b in samples:
        records.append(rec)
        feats.append(f.astype(np.float32))
        poses.append(p.astype(np.float32))
        betas.append(b.astype(np.float32))
    lengths = np.array([len(f) for f in feats], np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    arrays = {k: np.concatenate(v).astype(np.float32) for k, v in (extra or {}).items()}
    features = np.concatenate(feats)
    feature_sum, feature_sq = _motion_sums(feats)   # for the normalization statistics
    with atomic_path(path_npz) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, features=features, poses=np.concatenate(poses), lengths=lengths,
                 offsets=offsets, betas=np.stack(betas), feature_sum=feature_sum, feature_sq=feature_sq, **arrays)
    for k, rec in enumerate(records):
        rec["shard"], rec["row"] = path_npz.name, k
    with atomic_path(path_jsonl) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return len(records)


_WORKER: ShardWorker | None = None


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def quiet_on_interrupt() -> None:
    """In a pool worker: Ctrl-C is the parent's to handle (it stops the pool, and a finished
    shard stays finished), so workers ignore SIGINT instead of each printing a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def one_thread_per_worker():
    """Spawned workers start with single-threaded BLAS: a worker per core already fills the
    machine, and OpenBLAS threads on the IK's tiny batched solves cost more than they give.
    The variables must be set before a worker imports numpy, so they go in the environment
    that the pool's processes inherit; the parent's own settings come back afterwards."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker(lexicon_path: str, cfg: BuildConfig) -> None:
    global _WORKER
    import torch

    quiet_on_interrupt()
    torch.set_num_threads(1)
    _WORKER = ShardWorker(lexicon_path, cfg)


def _run_shards(jobs) -> int:
    return _WORKER.shards(jobs)


MAX_SHARDS_PER_BATCH = 8   # shards synthesized together (bigger batches cost less per sample)


def _batches(shards: int) -> list[range]:
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


# ------------------------------------------------------------------------ build

def build(cfg: BuildConfig, progress: Callable[[int, int], None] | None = None,
          scorer: MotionTextScorer | None = None) -> dict:
    """Build (or finish) the dataset in ``cfg.out``; returns the manifest."""
    lex_path = str(resolve_lexicon_path(cfg.lexicon))
    lex = read_lexicon(lex_path)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = plan(lex, cfg)
    if scorer is None and cfg.assign == "retrieval" and cfg.retrieval_run:
        from ..models.thmr import THMRScorer

        scorer = THMRScorer.load(cfg.retrieval_run)   # fail early, before any work (workers load their own)
        use_workers = True
    else:
        use_workers = scorer is None
    make_assigner(cfg.assign, scorer)
    plan_hash = hashlib.sha256(json.dumps([cfg.plan_key(), specs], sort_keys=True).encode()).hexdigest()
    plan_file = out / "plan.json"
    if plan_file.exists():
        old = json.loads(plan_file.read_text())
        if old.get("plan_hash") != plan_hash:
            raise DatasetError(f"{out} holds a dataset built with other settings; use a new --out folder")
    else:
        with atomic_path(plan_file) as tmp:
            tmp.write_text(json.dumps({"plan_hash": plan_hash, "config": cfg.plan_key()}, indent=1))
    shards = []
    for k, start in enumerate(range(0, len(specs), cfg.shard_size)):
        npz, jsonl = out / f"shard-{k:05d}.npz", out / f"shard-{k:05d}.jsonl"
        shards.append((specs[start:start + cfg.shard_size], str(npz), str(jsonl),
                       not (npz.exists() and jsonl.exists())))
    jobs = [[shards[k] for k in batch] for batch in _batches(len(shards))]
    jobs = [batch for batch in jobs if any(write for *_, write in batch)]
    done = len(specs) - sum(len(s) for s, *_, write in shards if write)
    if progress:
        progress(done, len(specs))
    if jobs:
        workers = cfg.workers or free_cores()   # extra workers on busy cores cost more than they give
        workers = min(workers, len(jobs))
        if workers > 1 and use_workers:
            ctx = mp.get_context("spawn")
            with one_thread_per_worker(), \
                    ctx.Pool(workers, initializer=_init_worker, initargs=(lex_path, cfg)) as pool:
                for n in pool.imap_unordered(_run_shards, jobs):
                    done += n
                    if progress:
                        progress(done, len(specs))
        else:
            worker = ShardWorker(lex_path, cfg, scorer if not cfg.retrieval_run else None)
            for batch in jobs:
                done += worker.shards(batch)
                if progress:
                    progress(done, len(specs))
    return _finish(out, cfg, lex, specs)


def _finish(out: Path, cfg: BuildConfig, lex: Lexicon, specs: list[dict]) -> dict:
    """Normalization statistics (train split) and the manifest."""
    counts: dict[str, int] = {}
    correct = 0
    multi = 0
    left_handed = 0
    shards = sorted(p.name for p in out.glob("shard-*.npz"))
    for name in shards:
        for rec in read_records(out / name.replace(".npz", ".jsonl")):
            counts[rec["split"]] = counts.get(rec["split"], 0) + 1
            left_handed += rec.get("dominant") == "left"
            if len(rec["candidates"]) > 1:
                multi += 1
                correct += rec["assigned"] == rec["entry"]
    if not write_stats(out, shards, lambda rec: rec["split"] == "train"):
        raise DatasetError("the train split is empty: raise --samples")
    _, why = synthesizable(lex)
    manifest = {
        "format_version": FORMAT_VERSION, "licence": LICENCE_NOTE, "config": asdict(cfg),
        "lexicon": {"path": lex.path, "sha256": hashlib.sha256(Path(lex.path).read_bytes()).hexdigest(),
                    "entries": len(lex), "not_synthesized": why},
        "samples": len(specs), "splits": counts, "shards": shards,
        "assignment": {"mode": cfg.assign, "multi_variant_samples": multi,
                       "accuracy": (correct / multi) if multi else None},
        "texts": dict(text_split(cfg).as_dict(), paraphrase_splits=list(PARAPHRASE_SPLITS),
                      left_handed=left_handed),
    }
    with atomic_path(out / "dataset.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def write_stats(out: Path, shards: list[str], keep: Callable[[dict], bool]) -> int:
    """Per-feature mean and std over the frames of the records ``keep`` picks, written to
    ``out/stats.npz`` (what training normalizes with); returns the frame count, and writes
    nothing when it is 0."""
    total = np.zeros(274)
    total_sq = np.zeros(274)
    frames = 0
    for name in shards:
        records = read_records(out / name.replace(".npz", ".jsonl"))
        with np.load(out / name, allow_pickle=False) as z:
            lengths, offsets = z["lengths"], z["offsets"]
            if len(records) != len(lengths):
                raise DatasetError(f"{out / name}: {len(lengths)} motions but {len(records)} records; "
                                   f"delete the shard and build again to remake it")
            picked = np.array([bool(keep(rec)) for rec in records], bool)
            if not picked.any():
                continue
            if "feature_sum" in z.files:      # per-motion sums, written with the shard
                total += z["feature_sum"][picked].sum(0)
                total_sq += z["feature_sq"][picked].sum(0)
            else:                             # a shard from before they were written
                feats = z["features"]
                sums, squares = _motion_sums([feats[o:o + n] for o, n in zip(offsets[picked], lengths[picked])])
                total += sums.sum(0)
                total_sq += squares.sum(0)
        frames += int(lengths[picked].sum())
    if frames == 0:
        return 0
    mean = total / frames
    std = np.sqrt(np.maximum(total_sq / frames - mean ** 2, 0.0))
    std = np.where(std < 1e-4, 1.0, std)   # constant features (rest joints) are not scaled
    with atomic_path(out / "stats.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, mean=mean.astype(np.float32), std=std.astype(np.float32), frames=np.int64(frames))
    return frames


def read_records(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Dataset:
    """A built dataset folder, read back: records per split and their motions."""
    root: Path
    manifest: dict
    records: list[dict] = field(default_factory=list)

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Dataset":
        root = Path(root)
        if not (root / "dataset.json").exists():
            raise DatasetError(f"{root}: not a SignForge dataset (no dataset.json); build one with "
                               f"`signforge data build`")
        manifest = json.loads((root / "dataset.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise DatasetError(f"{root}: dataset format {manifest.get('format_version')}, "
                               f"this SignForge reads {FORMAT_VERSION}")
        records = []
        for name in manifest["shards"]:
            records += read_records(root / name.replace(".npz", ".jsonl"))
        return cls(root, manifest, records)

    def split(self, name: str) -> list[dict]:
        return [r for r in self.records if r["split"] == name]

    def paraphrases(self) -> list[dict]:
        """The test records with held-out paraphrase texts (``record["texts"]["paraphrase"]``):
        a style family and synonyms no training text uses (``manifest["texts"]`` names them)."""
        return [r for r in self.records if r["texts"].get(PARAPHRASE)]

    def motion(self, record: dict):
        """The record's ``Motion`` (poses, betas; 25 fps)."""
        from ..motion.motion import Motion

        with np.load(self.root / record["shard"], allow_pickle=False) as z:
            o, n = int(z["offsets"][record["row"]]), int(z["lengths"][record["row"]])
            poses, betas = z["poses"][o:o + n], z["betas"][record["row"]]
        return Motion(poses, np.zeros((n, 3)), np.zeros((n, 10)), fps=25.0, betas=betas,
                      text=(record["texts"]["phonology+hms"] or [""])[0],
                      provenance={"dataset_id": record["id"], "entry": record["entry"]})
