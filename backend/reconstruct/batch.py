"""Batch reconstruction for the data factory: labelled sign videos -> a factory dataset.

``reconstruct_batch(BatchConfig(...))`` reads a folder of videos (or ``.pose`` files) and
their word labels, WLASL's JSON (``WLASL_v0.3.json``) or a ``file,gloss`` CSV, and writes
the folder ``signforge data build`` writes (shards of 274-D features, SMPL-X poses and
lengths, JSONL records with texts, normalization statistics, ``dataset.json``), so
``Dataset.open`` and training/ read it unchanged. Each item is reconstructed at 25 fps in
a pool of single-threaded worker processes, or as one Ray task per shard (``--engine ray``,
``backend.engine``); HandMotionScript cues are measured on the
motion, the hands' shapes are the nearest of the synthesizer's handshapes, and the
template translator writes the free text from those measurements, never naming the word.
Shards follow the labels' order; a shard is finished once ``shard-NNNNN.done.json`` is
written (atomically, last), so a rerun skips finished shards and gives the same output. A
file that cannot be reconstructed is skipped with its reason and never stops the batch.
numpy, torch, mediapipe (through ``reconstruct``); never bpy.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_path, check_writable
from ..data.dataset import (FORMAT_VERSION, DatasetError, Sample, ShardFiles, keyed_rng, read_records, split_words,
                            write_shard, write_stats)
from ..engine import Engine, run_tasks
from ..io.pose import LandmarkError
from . import POSE_SUFFIX, VIDEO_SUFFIXES, ReconstructError, ReconstructOptions, reconstruct

FPS = 25.0                # the factory's frame rate (Dataset.motion reads shards at 25 fps)
MIN_UNSEEN_WORDS = 10     # fewer words than this: no word is held out as test_unseen
BOTH_HANDS_FOUND = 0.5    # the other hand is described only when found in this share of frames
# WLASL's splits hold the same words (signer-independent); val and test are held-out samples.
SOURCE_SPLITS = {"train": "train", "val": "test_seen", "test": "test_seen",
                 "test_seen": "test_seen", "test_unseen": "test_unseen"}
# The licence a dataset states comes from where its labels say the clips are from.
LICENCE_NOTES = {
    ".json": ("Motions are reconstructed from the videos a WLASL_v0.3.json-style labels file names: WLASL's "
              "videos carry its licence (C-UDA 1.0, computational research use only); videos from elsewhere "
              "carry their own."),
    ".csv": ("Motions are reconstructed from clips the user supplied with a file,gloss CSV: they carry those "
             "clips' own licence, which SignForge does not know; check it before sharing the dataset or "
             "models trained on it."),
}


def licence_note(labels: str | os.PathLike) -> str:
    """The licence dataset.json states, from the labels' kind (WLASL JSON or the user's CSV)."""
    return LICENCE_NOTES[Path(labels).suffix.lower()]


class BatchError(DatasetError):
    """Labels, folders or settings a batch cannot use; the message names the problem."""


@dataclass(frozen=True)
class BatchConfig:
    video_dir: str
    labels: str
    out: str
    workers: int = 2
    seed: int = 0
    shard_size: int = 32                   # items per shard: the most work an interruption loses
    texts_per_sample: int = 3
    test_seen_fraction: float = 0.1        # for items without a split, as data build draws it
    unseen_fraction: float = 0.1
    smplx: str | None = None

    def plan_key(self) -> dict:
        """What the output depends on besides the items (not the folders or the workers)."""
        d = asdict(self)
        for k in ("out", "workers", "video_dir", "labels"):
            d.pop(k)
        return d


@dataclass
class ReconstructedRecord:
    """A reconstructed item's JSONL record, typed. It has the keys of the factory's records
    that training reads, with no dictionary entry (``entry`` and ``assigned`` empty,
    ``assignment`` "none", the sign over every frame), and what the video gave: its source,
    signer, measured handshapes and reconstruction quality."""
    id: str
    word: str
    split: str
    source_split: str | None
    texts: dict               # gloss (the label), no phonology, phonology+hms from the measurements
    hms: dict
    frames: int
    dominant: str
    signer_id: str | None
    handshapes: dict          # side -> nearest synthesizer handshape and its angle
    source: dict              # file, window in seconds or frames, and how it was chosen
    reconstruction: dict      # hands found, held frames, reprojection, trimmed, confidence
    entry: str = ""
    candidates: list[str] = field(default_factory=list)
    assigned: str = ""
    assignment: str = "none"
    word_sets: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return dict(asdict(self), sign_frames=[0, self.frames])


# ------------------------------------------------------------------------ labels

def read_labels(labels: str | os.PathLike, video_dir: str | os.PathLike) -> list[dict]:
    """The items of a WLASL JSON or ``file,gloss`` CSV labels file, checked against the video
    folder: id, file (relative to the folder), word, the window (seconds or 1-based frames),
    the source split and the signer id when known. Raises BatchError for unusable input."""
    labels, video_dir = Path(labels), Path(video_dir)
    if not labels.is_file():
        raise BatchError(f"{labels}: no such labels file")
    if not video_dir.is_dir():
        raise BatchError(f"{video_dir}: no such video folder")
    if labels.suffix.lower() == ".json":
        items = _wlasl_items(labels, video_dir)
    elif labels.suffix.lower() == ".csv":
        items = _csv_items(labels)
    else:
        raise BatchError(f"{labels}: labels must be WLASL-style .json or a .csv with a file,gloss header")
    if not items:
        raise BatchError(f"{labels}: names no videos")
    suffixes = set(VIDEO_SUFFIXES) | {POSE_SUFFIX}
    if not any(p.suffix.lower() in suffixes for p in video_dir.rglob("*") if p.is_file()):
        raise BatchError(f"{video_dir}: holds no video or .pose file")
    if not any((video_dir / it["file"]).is_file() for it in items):
        raise BatchError(f"{video_dir}: none of the {len(items)} files named in {labels.name} is there "
                         f"(the first is {items[0]['file']})")
    seen: Counter = Counter()
    for it in items:                      # the same video with other windows gets its own id
        seen[it["id"]] += 1
        if seen[it["id"]] > 1:
            it["id"] = f"{it['id']}~{seen[it['id']]}"
    return items


def _item(ident, file, word, source, split, signer_id, start=None, end=None, frame_start=None,
          frame_end=None) -> dict:
    word = " ".join(str(word or "").split()).lower()
    if not word:
        raise BatchError(f"{source}: no gloss")
    split = (str(split).strip().lower() or None) if split is not None else None
    if split is not None and split not in SOURCE_SPLITS:
        raise BatchError(f"{source}: unknown split {split!r}; use one of {', '.join(SOURCE_SPLITS)}")
    return {"id": str(ident), "file": str(file), "word": word, "start": start, "end": end,
            "frame_start": frame_start, "frame_end": frame_end, "source_split": split,
            "signer_id": None if signer_id in (None, "") else str(signer_id)}


def _wlasl_items(path: Path, video_dir: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchError(f"{path}: not valid JSON ({exc})") from None
    layout = "a list of {\"gloss\": ..., \"instances\": [{\"video_id\": ...}, ...]} as in WLASL_v0.3.json"
    if not isinstance(data, list):
        raise BatchError(f"{path}: expected {layout}")
    items = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("instances"), list) or "gloss" not in entry:
            raise BatchError(f"{path}: entry {i} has no gloss or instances list; expected {layout}")
        for j, inst in enumerate(entry["instances"]):
            where = f"{path}: entry {i} ({entry['gloss']!r}), instance {j}"
            if not isinstance(inst, dict) or not str(inst.get("video_id", "")).strip():
                raise BatchError(f"{where} has no video_id")
            vid = str(inst["video_id"]).strip()
            try:
                first = int(inst.get("frame_start", 1))
                last = int(inst.get("frame_end", -1))
            except (TypeError, ValueError):
                raise BatchError(f"{where}: frame_start/frame_end must be whole numbers") from None
            if first < 1 or (last != -1 and last < first):
                raise BatchError(f"{where}: frames {first}-{last} are not a 1-based range (frame_end -1: to the end)")
            pose = video_dir / f"{vid}{POSE_SUFFIX}"
            file = pose.name if pose.is_file() and not (video_dir / f"{vid}.mp4").is_file() else f"{vid}.mp4"
            items.append(_item(vid, file, entry["gloss"], where, inst.get("split"), inst.get("signer_id"),
                               frame_start=first, frame_end=None if last == -1 else last))
    return items


def _csv_items(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            if "file" not in fields or "gloss" not in fields:
                raise BatchError(f"{path}: the CSV header must name the columns file,gloss (optional: start, end "
                                 f"in seconds, split, signer_id); it has {','.join(fields) or 'nothing'}")
            reader.fieldnames = fields
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise BatchError(f"{path}: not UTF-8 text ({exc})") from None
    except csv.Error as exc:   # a field over the csv module's 128 KB limit, a NUL byte...
        raise BatchError(f"{path}: not a readable CSV ({exc})") from None
    items = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        file = (row.get("file") or "").strip()
        if not file:
            raise BatchError(f"{where}: no file")
        try:
            start, end = (float(row[k]) if (row.get(k) or "").strip() else None for k in ("start", "end"))
        except ValueError:
            raise BatchError(f"{where}: start and end must be seconds") from None
        items.append(_item(Path(file).stem, file, row.get("gloss"), where, row.get("split"), row.get("signer_id"),
                           start=start, end=end))
    return items


def assign_splits(items: list[dict], cfg: BatchConfig) -> None:
    """Each item's split: its source's (WLASL train -> train, val and test -> test_seen), else
    drawn as data build draws it: ``unseen_fraction`` of the words (seeded, only with at least
    MIN_UNSEEN_WORDS words) go to test_unseen, and ``test_seen_fraction`` of the other items,
    by a generator keyed on the seed and the item's id, to test_seen."""
    names = sorted({it["word"] for it in items})
    unseen = split_words(names, cfg.seed, cfg.unseen_fraction)[0] if len(names) >= MIN_UNSEEN_WORDS else set()
    for it in items:
        if it["source_split"]:
            it["split"] = SOURCE_SPLITS[it["source_split"]]
        elif it["word"] in unseen:
            it["split"] = "test_unseen"
        else:
            draw = keyed_rng("sample", cfg.seed, it["id"]).random()
            it["split"] = "test_seen" if draw < cfg.test_seen_fraction else "train"


# ------------------------------------------------------------------------ one item

def forbidden_forms(word: str) -> set[str]:
    """The ways a label may be written in text: as given and with _ or - as spaces."""
    w = word.lower().strip()
    return {w, w.replace("_", " "), w.replace("-", " ")}


class ItemWorker:
    """Reconstructs items and describes them; one per process (it holds the fitter and HMS)."""

    def __init__(self, cfg: BatchConfig):
        from ..data.hms import HMS
        from . import get_fitter

        self.cfg = cfg
        self.video_dir = Path(cfg.video_dir)
        self.body = get_fitter(cfg.smplx).body
        self.hms = HMS(self.body)

    def run(self, item: dict) -> tuple:
        """("done", item id, Sample, seconds) or ("skipped", item id, reason, seconds)."""
        t0 = time.perf_counter()
        try:
            sample = self.sample(item)
        except ReconstructError as exc:
            return "skipped", item["id"], str(exc), time.perf_counter() - t0
        except Exception as exc:   # noqa: BLE001 - a broken file must never stop the batch
            return "skipped", item["id"], f"{type(exc).__name__}: {exc}", time.perf_counter() - t0
        return "done", item["id"], sample, time.perf_counter() - t0

    def run_shard(self, task: tuple[int, list[dict]]) -> list[tuple]:
        """A whole shard (index, items), reconstructed and written here (the Ray engine's
        task): ("done" or "skipped", item id, None or the reason, seconds) per item."""
        k, items = task
        results = {it["id"]: self.run(it) for it in items}
        _write_shard(Path(self.cfg.out), k, items, results)
        return [(status, ident, None if status == "done" else payload, secs)
                for status, ident, payload, secs in results.values()]

    def sample(self, item: dict) -> Sample:
        """One item's sample, with its per-frame confidence as an extra array."""
        from ..body import rotations as R
        from ..body.features import pose_to_features
        from ..data.text import TemplateTranslator, leaks

        path = self.video_dir / item["file"]
        start, end, window = self.window(item, path)
        report = reconstruct(path, ReconstructOptions(start=start, end=end, fps=FPS, gloss=item["word"],
                                                      smplx=self.cfg.smplx))
        motion = report.motion
        rotations = R.np_axis_angle_to_matrix(motion.poses.astype(float))   # features and cues share them
        features = pose_to_features(rotations, motion.expression).astype(np.float32)
        cues = self.hms.measure(motion, rotations=rotations)
        found = {"left": report.left_hand_found, "right": report.right_hand_found}
        dominant = "left" if found["left"] > found["right"] else "right"
        other = "right" if dominant == "left" else "left"
        shapes = {s: self.nearest_handshape(motion.poses, s) for s in (dominant, other)}
        phonology, text_cues = self.measured(cues, found, dominant, other, shapes)
        forbidden = forbidden_forms(item["word"])
        free = TemplateTranslator().describe(phonology, text_cues, dominant, self.cfg.texts_per_sample,
                                             keyed_rng("text", self.cfg.seed, item["id"]), forbidden)
        free = [t for t in free if not leaks(t, forbidden)]
        prov = motion.provenance
        record = ReconstructedRecord(
            id=item["id"], word=item["word"], split=item["split"], source_split=item["source_split"],
            texts={"gloss": item["word"], "phonology": "", "phonology+hms": free},
            hms=cues.as_dict(), frames=motion.num_frames, dominant=dominant, signer_id=item["signer_id"],
            handshapes={s: {"name": n, "angle_deg": round(a, 1)} for s, (n, a) in shapes.items()},
            source={"file": item["file"], "start_s": start, "end_s": end, "frame_start": item["frame_start"],
                    "frame_end": item["frame_end"], "window": window},
            reconstruction={
                "left_hand_found": round(found["left"], 4), "right_hand_found": round(found["right"], 4),
                "left_hand_held_frames": prov["left_hand_held_frames"],
                "right_hand_held_frames": prov["right_hand_held_frames"],
                "reprojection_px": round(float(report.reprojection_px), 2),
                "frames_in": int(report.frames_in), "trimmed": [int(x) for x in report.trimmed],
                "confidence_mean": round(float(motion.confidence.mean()), 4),
                **{k: prov[k] for k in ("turned", "not_upright") if k in prov},
            },
        )
        try:   # the shard's JSONL must stay strict JSON: no NaN or Infinity reaches it
            json.dumps(record.as_json(), allow_nan=False)
        except ValueError:
            raise ReconstructError(f"{path}: the reconstruction holds a non-finite number; not written") from None
        return Sample(record, features, motion.poses, motion.betas, extra={"confidence": motion.confidence})

    def window(self, item: dict, path: Path) -> tuple[float | None, float | None, str]:
        """Seconds to reconstruct, and how they were chosen. WLASL's 1-based frames count the
        file's own frames; a file shorter than the range, exactly as long as it, is an instance
        WLASL's preprocess.py already cut out, and is used whole."""
        if item["frame_start"] is None:
            given = item["start"] is not None or item["end"] is not None
            return item["start"], item["end"], "seconds from the labels" if given else "whole file"
        first, last = item["frame_start"], item["frame_end"]
        if first == 1 and last is None:
            return None, None, "whole file"
        try:
            if path.suffix.lower() == POSE_SUFFIX:
                from ..io.pose import read_pose

                lm = read_pose(path)
                count, fps = lm.num_frames, lm.fps
            else:
                from .video import probe

                info = probe(path)
                count, fps = info["frames"], info["fps"]
        except LandmarkError as exc:
            raise ReconstructError(str(exc)) from None
        fps = fps if 0 < fps <= 1000 else FPS
        if last is not None and count > 0 and last > count:
            if abs(count - (last - first + 1)) <= 1:
                return None, None, f"whole file (already cut to frames {first}-{last})"
            raise ReconstructError(f"{path}: frames {first}-{last} lie outside its {count} frames")
        # frame k (1-based) shows at (k - 1) / fps: cut half a frame outside the range
        start = (first - 1.5) / fps if first > 1 else None
        end = (last - 0.5) / fps if last is not None else None
        return start, end, f"frames {first}-{last if last is not None else 'end'} at {fps:g} fps"

    def nearest_handshape(self, poses: np.ndarray, side: str) -> tuple[str, float]:
        """The synthesizer's handshape closest to the hand's fitted finger rotations (mean
        geodesic angle over the 15 finger joints and the frames), and that angle in degrees."""
        from ..data.handshapes import nearest_handshape

        return nearest_handshape(poses, side)

    @staticmethod
    def measured(cues, found: dict, dominant: str, other: str, shapes: dict):
        """A Phonology the translator can read, filled from measurements only (handshapes,
        one or two hands, repetition; 'NA' elsewhere), and the cues it may describe: the
        other hand only when it was found in at least BOTH_HANDS_FOUND of the frames."""
        from ..data.hms import Cues, HandCues
        from ..data.lexicon import Phonology

        hand = cues.hands[dominant]
        both = found[other] >= BOTH_HANDS_FOUND and hand.active and cues.hands[other].active
        sign_type = "OneHanded"
        if both:
            sign_type = "SymmetricalOrAlternating" if cues.hands[other].moves else "AsymmetricalDifferentHandshape"
        taps = sum(t.startswith("touch ") for t in hand.touch)
        repeated = taps > 1 or any(hand.moves.count(m) > 1 for m in set(hand.moves))
        values = {f: "NA" for f in Phonology.__dataclass_fields__}
        values.update(handshape=shapes[dominant][0], sign_type=sign_type, repeated_movement=str(int(repeated)),
                      nondominant_handshape=shapes[other][0] if both else "NA")
        text_cues = Cues({dominant: hand, other: cues.hands[other] if both else HandCues()},
                         cues.between if both else [], cues.frames)
        return Phonology(**values), text_cues


# ------------------------------------------------------------------------ the batch

def _done_path(out: Path, k: int) -> Path:
    """The marker that says shard ``k`` is finished (written last, with what was skipped)."""
    return out / f"shard-{k:05d}.done.json"


def _write_shard(out: Path, k: int, items: list[dict], results: dict[str, tuple]) -> None:
    """A finished shard: its samples (if any) in the factory's format, then the done marker
    listing what was skipped and why."""
    files, done = ShardFiles.of(out, k), _done_path(out, k)
    samples = [results[it["id"]][2] for it in items if results[it["id"]][0] == "done"]
    if samples:
        write_shard(samples, files)
    else:
        files.npz.unlink(missing_ok=True)
        files.jsonl.unlink(missing_ok=True)
    skipped = [{"id": it["id"], "file": it["file"], "word": it["word"], "reason": results[it["id"]][2]}
               for it in items if results[it["id"]][0] == "skipped"]
    with atomic_path(done) as tmp:
        tmp.write_text(json.dumps({"done": [s.record.id for s in samples], "skipped": skipped}, indent=1))


def _prepare(cfg: BatchConfig) -> None:
    """Load the body and the handshape table once before the workers start: a bad --smplx
    fails here, and the workers read both from the cache instead of each building them."""
    from ..body.model import Body, resolve_model_file
    from ..data.handshapes import hand_pose

    try:
        Body.load(resolve_model_file(cfg.smplx))
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    hand_pose("5", "right")


def reconstruct_batch(cfg: BatchConfig, progress: Callable[[int, int], None] | None = None,
                      log: Callable[[str], None] | None = None, engine: Engine = Engine()) -> dict:
    """Reconstruct (or finish) the batch into ``cfg.out``; returns the manifest, with this run's
    own counts and time under ``"run"``. ``progress(done, total)`` counts items finished or
    skipped; ``log(message)`` hears each skipped item. Raises BatchError for unusable input,
    before anything is written. The local engine spreads items over its processes and writes
    each shard here once its items are in; the Ray engine's tasks are whole shards, each
    written by the Ray worker that made it (so ``cfg.out`` must be storage the workers share)."""
    if cfg.workers < 1 or cfg.shard_size < 1 or cfg.texts_per_sample < 1:
        raise BatchError("workers, shard size and texts per sample must be at least 1")
    t0 = time.perf_counter()
    items = read_labels(cfg.labels, cfg.video_dir)
    engine.check()
    assign_splits(items, cfg)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    check_writable(out / "plan.json")    # OSError, before any work
    plan_hash = hashlib.sha256(json.dumps([cfg.plan_key(), items], sort_keys=True).encode()).hexdigest()
    plan_file = out / "plan.json"
    if plan_file.exists():
        if json.loads(plan_file.read_text()).get("plan_hash") != plan_hash:
            raise BatchError(f"{out} holds a dataset made from other labels or settings; use a new --out folder")
    elif out.is_dir() and any(out.iterdir()):
        raise BatchError(f"{out}: the folder is not empty and holds no batch to resume; use a new --out folder")
    shards = [items[a:a + cfg.shard_size] for a in range(0, len(items), cfg.shard_size)]
    todo = [k for k in range(len(shards)) if not _done_path(out, k).exists()]
    finished = len(items) - sum(len(shards[k]) for k in todo)
    count = finished
    if progress:
        progress(count, len(items))
    if not plan_file.exists():
        with atomic_path(plan_file) as tmp:
            tmp.write_text(json.dumps({"plan_hash": plan_hash, "config": cfg.plan_key(), "items": len(items)},
                                      indent=1))
    seconds: list[tuple[str, float]] = []   # (status, seconds) of each item this run
    if todo:
        _prepare(cfg)
        queue = [it for k in todo for it in shards[k]]
        shard_of = {it["id"]: k for k in todo for it in shards[k]}
        waiting = {k: len(shards[k]) for k in todo}
        results: dict[str, tuple] = {}

        def take(result: tuple) -> None:
            nonlocal count
            status, ident, payload, secs = result
            results[ident] = result
            seconds.append((status, secs))
            if status == "skipped" and log:
                log(f"skipped {ident}: {payload}")
            k = shard_of[ident]
            waiting[k] -= 1
            if waiting[k] == 0:
                _write_shard(out, k, shards[k], results)
                for it in shards[k]:
                    results.pop(it["id"])
            count += 1
            if progress:
                progress(count, len(items))

        if engine.name == "ray":   # each task writes its shard; the items' outcomes come back
            # absolute paths: a Ray worker runs in a folder of its own, on any node
            shared = replace(cfg, video_dir=str(Path(cfg.video_dir).resolve()), out=str(out.resolve()),
                             smplx=str(Path(cfg.smplx).expanduser().resolve()) if cfg.smplx else None)
            for outcomes in run_tasks(engine, [(k, shards[k]) for k in todo], ItemWorker, (shared,),
                                      workers=cfg.workers, method="run_shard"):
                for status, ident, reason, secs in outcomes:
                    seconds.append((status, secs))
                    if status == "skipped" and log:
                        log(f"skipped {ident}: {reason}")
                    count += 1
                    if progress:
                        progress(count, len(items))
        else:
            for result in run_tasks(engine, queue, ItemWorker, (cfg,), workers=cfg.workers):
                take(result)
    manifest = _finish(out, cfg, shards)
    manifest["run"] = {"processed": len(seconds), "already_finished": finished,
                       "seconds": time.perf_counter() - t0,
                       "reconstructed": sum(s == "done" for s, _ in seconds),
                       "seconds_per_sample": float(np.mean([t for s, t in seconds if s == "done"] or [0.0]))}
    return manifest


def _finish(out: Path, cfg: BatchConfig, shards: list[list[dict]]) -> dict:
    """Normalization statistics (the train split, or every sample when it has none) and the
    manifest, from the finished shards."""
    names, records, skipped = [], [], []
    for k in range(len(shards)):
        files = ShardFiles.of(out, k)
        skipped += json.loads(_done_path(out, k).read_text())["skipped"]
        if files.npz.exists():
            names.append(files.npz.name)
            records += read_records(files.jsonl)
    total = sum(len(s) for s in shards)
    if not records:
        reasons = "; ".join(f"{s['id']}: {s['reason']}" for s in skipped[:5])
        raise BatchError(f"none of the {total} items could be reconstructed ({reasons}"
                         f"{' ...' if len(skipped) > 5 else ''})")
    stats_from = "train"
    if not write_stats(out, names, lambda rec: rec["split"] == "train"):
        stats_from = "all"
        write_stats(out, names, lambda rec: True)
    counts = Counter(r["split"] for r in records)
    found = {s: [r["reconstruction"][f"{s}_hand_found"] for r in records] for s in ("left", "right")}
    manifest = {
        "format_version": FORMAT_VERSION, "licence": licence_note(cfg.labels), "source": "reconstruct-batch",
        "config": dict(cfg.plan_key(), video_dir=cfg.video_dir, labels=cfg.labels, word_sets=[]),
        "samples": len(records), "splits": dict(sorted(counts.items())), "shards": names,
        "assignment": {"mode": "none", "multi_variant_samples": 0, "accuracy": None},
        "reconstruction": {
            "items": total, "done": len(records), "skipped": skipped, "stats_from": stats_from,
            "hand_found_mean": {s: round(float(np.mean(v)), 4) for s, v in found.items()},
            "hand_never_found": {s: int(sum(x == 0 for x in v)) for s, v in found.items()},
            "confidence_mean": round(float(np.mean([r["reconstruction"]["confidence_mean"] for r in records])), 4),
        },
    }
    with atomic_path(out / "dataset.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False))
    return manifest
