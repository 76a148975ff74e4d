"""A dataset folder on disk: shards, records, normalization statistics, and reading it back.

The one owner of the format ``signforge data build`` and ``signforge reconstruct-batch``
both write and training reads. Each shard is a pair of files written atomically:
``shard-NNNNN.npz`` (274-D features, SMPL-X poses, lengths, offsets, betas, per-motion
feature sums) and ``shard-NNNNN.jsonl`` (one JSON record per motion, keys sorted).
``stats.npz`` holds the train split's per-feature mean and std; ``dataset.json`` the
manifest. numpy only; never torch or bpy.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from blender_addon.core.errors import SignForgeError

from ...atomic import atomic_path
from ..text import PARAPHRASE

FORMAT_VERSION = 1
LICENCE_NOTE = ("Motions and texts are derived from ASL-LEX 2.0 (CC BY-NC 4.0): "
                "non-commercial use only, with attribution to the ASL-LEX authors.")
SPLITS = ("train", "test_seen", "test_unseen")
PARAPHRASE_SPLITS = ("test_seen", "test_unseen")   # records that also carry held-out paraphrase texts
FEATURE_DIM = 274


class DatasetError(SignForgeError, ValueError):
    """A dataset request or folder that cannot be honoured; the message names why."""


@dataclass(frozen=True)
class ShardFiles:
    """Where shard ``index`` of a dataset folder lives; the names are the format's."""
    npz: Path
    jsonl: Path

    @classmethod
    def of(cls, out: str | os.PathLike, index: int) -> "ShardFiles":
        out = Path(out)
        return cls(out / f"shard-{index:05d}.npz", out / f"shard-{index:05d}.jsonl")

    def exist(self) -> bool:
        return self.npz.exists() and self.jsonl.exists()


class Record(Protocol):
    """A shard's record, typed: ``SampleRecord`` (synthesized) or ``ReconstructedRecord``
    (``backend.reconstruct.batch``); ``as_json()`` is its JSONL line's object."""
    id: str

    def as_json(self) -> dict: ...


@dataclass
class Sample:
    """One motion ready for a shard: its record, its features (T, 274), SMPL-X poses
    (T, 55, 3) and betas, and any extra per-frame arrays (name -> (T, ...))."""
    record: Record
    features: np.ndarray
    poses: np.ndarray
    betas: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class SampleRecord:
    """A synthesized sample's JSONL record, typed. ``as_json()`` is exactly the line's
    object (``write_shard`` adds ``shard`` and ``row``); readers get plain dicts back, so
    older datasets and the reconstructed ones (which carry other keys) read alike."""
    id: str
    word: str
    entry: str                      # the true dictionary entry the motion was signed from
    candidates: list[str]           # the word's signable variants
    split: str
    signer_seed: int
    left_handed: bool
    word_sets: list[str]
    assign_seed: int
    assigned: str                   # the variant the texts are written from
    assignment: str                 # random | retrieval
    texts: dict
    text_styles: dict
    hms: dict
    frames: int
    sign_frames: list[int]
    dominant: str
    signer: dict
    parts: list = field(default_factory=list)   # a compound's morphemes: {"sign_frames", "hms"} each

    def as_json(self) -> dict:
        return asdict(self)


def motion_sums(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per motion (T, D), the sum of its frames' features and of their squares (N, D), in float64."""
    wide = [f.astype(np.float64) for f in feats]
    dim = feats[0].shape[-1] if feats else 0
    return (np.array([f.sum(0) for f in wide]).reshape(len(wide), dim),
            np.array([np.einsum("ij,ij->j", f, f) for f in wide]).reshape(len(wide), dim))


def save_npz(fh, **arrays) -> None:
    """``np.savez``'s file (uncompressed, one ``NAME.npy`` per array), with the zip closed even
    when a Ctrl-C lands mid-write: numpy's leaves it open, and its collection after the file is
    closed prints "Exception ignored ... Traceback" under "interrupted"."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


def write_shard(samples: list[Sample], files: ShardFiles) -> int:
    """Write one shard, each file atomically (the npz first: a shard is whole once both
    exist). Every sample's extra arrays are stored under their names, concatenated like
    the features. Returns the number of samples."""
    feats = [s.features.astype(np.float32) for s in samples]
    lengths = np.array([len(f) for f in feats], np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    names = sorted({k for s in samples for k in s.extra})
    arrays = {k: np.concatenate([s.extra[k] for s in samples]).astype(np.float32) for k in names}
    feature_sum, feature_sq = motion_sums(feats)   # for the normalization statistics
    with atomic_path(files.npz) as tmp, open(tmp, "wb") as fh:
        save_npz(fh, features=np.concatenate(feats), poses=np.concatenate([s.poses.astype(np.float32) for s in samples]),
                 lengths=lengths, offsets=offsets, betas=np.stack([s.betas.astype(np.float32) for s in samples]),
                 feature_sum=feature_sum, feature_sq=feature_sq, **arrays)
    lines = []
    for k, s in enumerate(samples):
        rec = s.record.as_json()
        rec["shard"], rec["row"] = files.npz.name, k
        lines.append(json.dumps(rec, sort_keys=True, allow_nan=False) + "\n")
    with atomic_path(files.jsonl) as tmp:
        tmp.write_text("".join(lines))
    return len(samples)


def read_records(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_stats(out: Path, shards: list[str], keep: Callable[[dict], bool]) -> int:
    """Per-feature mean and std over the frames of the records ``keep`` picks, written to
    ``out/stats.npz`` (what training normalizes with); returns the frame count, and writes
    nothing when it is 0. Summed in the order of ``shards``."""
    total = np.zeros(FEATURE_DIM)
    total_sq = np.zeros(FEATURE_DIM)
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
                sums, squares = motion_sums([feats[o:o + n] for o, n in zip(offsets[picked], lengths[picked])])
                total += sums.sum(0)
                total_sq += squares.sum(0)
        frames += int(lengths[picked].sum())
    if frames == 0:
        return 0
    mean = total / frames
    std = np.sqrt(np.maximum(total_sq / frames - mean ** 2, 0.0))
    std = np.where(std < 1e-4, 1.0, std)   # constant features (rest joints) are not scaled
    with atomic_path(out / "stats.npz") as tmp, open(tmp, "wb") as fh:
        save_npz(fh, mean=mean.astype(np.float32), std=std.astype(np.float32), frames=np.int64(frames))
    return frames


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
        from ...motion.motion import Motion

        with np.load(self.root / record["shard"], allow_pickle=False) as z:
            o, n = int(z["offsets"][record["row"]]), int(z["lengths"][record["row"]])
            poses, betas = z["poses"][o:o + n], z["betas"][record["row"]]
        return Motion(poses, np.zeros((n, 3)), np.zeros((n, 10)), fps=25.0, betas=betas,
                      text=(record["texts"]["phonology+hms"] or [""])[0],
                      provenance={"dataset_id": record["id"], "entry": record["entry"]})
