"""Batch reconstruction into a data-factory dataset: CSV and WLASL labels, broken files
skipped and reported, resuming, the factory's loaders reading the result, splits, texts
that never name the word, and clear refusals of bad input.

Real MediaPipe, OpenCV, smplx, worker processes and the command line; the shared clip and
.pose file are copied into tmp_path (short windows keep every reconstruction small).
"""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.data.lexicon import resolve_lexicon_path

REPO = Path(__file__).resolve().parents[1]
VIDEO_DIR = resolve_lexicon_path().parent.parent / "video"
CLIP = VIDEO_DIR / "test_video.mp4"          # 540x720, 58 frames at 29.92 fps
POSE = VIDEO_DIR / "mediapipe.pose"          # 170 frames at 24 fps, right hand only
needs_data = pytest.mark.skipif(not (CLIP.exists() and POSE.exists()), reason=f"{VIDEO_DIR} not found")


@pytest.fixture
def videos(tmp_path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    if CLIP.exists() and POSE.exists():
        shutil.copy(CLIP, folder / "clip.mp4")
        shutil.copy(POSE, folder / "signer.pose")
    (folder / "broken.mp4").write_text("this is not a video\n" * 20)
    return folder


def _write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("file,gloss,start,end,signer_id\n" + "".join(r + "\n" for r in rows))
    return path


def _shard_arrays(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@needs_data
def test_csv_batch_with_two_workers_skips_a_broken_file_loads_and_resumes(tmp_path, videos):
    from backend.data.dataset import Dataset
    from backend.data.text import leaks
    from backend.reconstruct.batch import BatchConfig, reconstruct_batch
    from training.data import MotionTextData

    # words that the descriptions would use ("hand", "shoulder") must still never appear
    labels = _write_csv(tmp_path / "labels.csv", ["signer.pose,Shoulder,3.0,4.0,s1", "broken.mp4,book,,,",
                                                  "signer.pose,hand,1.0,2.0,"])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "backend.cli", "reconstruct-batch", str(videos), "--labels", str(labels),
           "--out", str(out), "--shard-size", "2", "--workers", "2"]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stdout.split())
    assert "2 done, 1 skipped, 3 in all" in said and "not a video OpenCV can open" in said
    assert "hands found: left 0%, right 100%" in said and "time:" in said
    assert "skipped broken" in " ".join(run.stderr.split())          # logged as it happened

    ds = Dataset.open(out)
    assert [r["id"] for r in ds.records] == ["signer", "signer~2"]
    assert [r["word"] for r in ds.records] == ["shoulder", "hand"]
    assert [r["signer_id"] for r in ds.records] == ["s1", None]
    assert ds.manifest["reconstruction"]["skipped"][0]["id"] == "broken"
    assert "C-UDA" not in ds.manifest["licence"] and "user supplied" in ds.manifest["licence"]   # not WLASL's
    assert ds.manifest["shards"] == ["shard-00000.npz", "shard-00001.npz"]
    for rec in ds.records:
        assert rec["source"]["file"] == "signer.pose" and rec["dominant"] == "right"
        assert rec["reconstruction"]["right_hand_found"] == 1.0 and rec["reconstruction"]["left_hand_found"] == 0.0
        assert rec["texts"]["gloss"] == rec["word"] and rec["texts"]["phonology"] == ""
        free = rec["texts"]["phonology+hms"]
        assert len(free) == 3 and not any(leaks(t, {rec["word"]}) for t in free), free
        motion = ds.motion(rec)
        assert motion.fps == 25.0 and motion.num_frames == rec["frames"]
        assert rec["reconstruction"]["frames_in"] == 25 and 8 <= rec["frames"] <= 27   # 1 s at 24 fps
        arrays = _shard_arrays(out / rec["shard"])
        o, n = int(arrays["offsets"][rec["row"]]), int(arrays["lengths"][rec["row"]])
        assert n == rec["frames"] and arrays["features"].shape[1] == 274
        assert arrays["confidence"].shape == arrays["features"].shape[:1] == arrays["poses"].shape[:1]
        assert 0 < arrays["confidence"][o:o + n].min() <= arrays["confidence"][o:o + n].max() <= 1
    with np.load(out / "stats.npz", allow_pickle=False) as z:
        assert z["mean"].shape == z["std"].shape == (274,) and int(z["frames"]) > 0
    for condition in ("phonology+hms", "gloss"):
        data = MotionTextData(out, ("train", "test_seen", "test_unseen"), condition)
        item = data[0]
        assert len(data) == 2 and item["x"].shape[1] == 274 and np.isfinite(item["x"].numpy()).all()
    assert data.texts(data.records[0]) == ["shoulder"]

    # resume (in this process this time): the first shard (a clip and the broken file) is
    # lost; only it is redone, and everything comes back as it was
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-00001.*")}
    for p in list(out.glob("shard-00000.*")) + [out / "dataset.json"]:
        p.unlink()
    cfg = BatchConfig(video_dir=str(videos), labels=str(labels), out=str(out), shard_size=2, workers=1)
    manifest = reconstruct_batch(cfg)
    assert manifest["run"]["processed"] == 2 and manifest["run"]["already_finished"] == 1
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-00001.*")} == kept
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(after) == sorted(before)
    for name in before:
        if name.endswith(".npz"):
            a = _shard_arrays(out / name)
            with np.load(io.BytesIO(before[name]), allow_pickle=False) as z:
                b = {k: z[k] for k in z.files}
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=f"{name}:{k}")
        else:
            assert after[name] == before[name], name
    again = reconstruct_batch(cfg)                                    # all finished: nothing to do
    assert again["run"]["processed"] == 0 and again["run"]["already_finished"] == 3


@needs_data
def test_wlasl_json_frames_splits_and_missing_videos(tmp_path, videos):
    from backend.data.dataset import Dataset
    from backend.reconstruct.batch import BatchConfig, ItemWorker, read_labels, reconstruct_batch

    wlasl = [
        {"gloss": "hello", "instances": [
            {"video_id": "clip", "frame_start": 10, "frame_end": 36, "fps": 25, "split": "train", "signer_id": 7,
             "url": "https://example.org/clip", "bbox": [0, 0, 540, 720]},
            {"video_id": "gone", "frame_start": 1, "frame_end": -1, "fps": 25, "split": "test", "signer_id": 7},
            {"video_id": "cut", "frame_start": 1, "frame_end": -1, "fps": 25, "split": "train", "signer_id": 8}]},
        {"gloss": "chin", "instances": [
            {"video_id": "signer", "frame_start": 73, "frame_end": 96, "fps": 25, "split": "val", "signer_id": 3}]},
    ]
    (videos / "cut.mp4").write_bytes(CLIP.read_bytes()[:3000])       # truncated: the frames are gone
    labels = tmp_path / "WLASL_v0.3.json"
    labels.write_text(json.dumps(wlasl))
    items = read_labels(labels, videos)
    assert [(it["id"], it["file"], it["word"]) for it in items] == [
        ("clip", "clip.mp4", "hello"), ("gone", "gone.mp4", "hello"), ("cut", "cut.mp4", "hello"),
        ("signer", "signer.pose", "chin")]
    out = tmp_path / "wlasl"
    manifest = reconstruct_batch(BatchConfig(video_dir=str(videos), labels=str(labels), out=str(out), workers=1))
    skipped = manifest["reconstruction"]["skipped"]
    assert [s["id"] for s in skipped] == ["gone", "cut"] and "no such file" in skipped[0]["reason"]
    assert re.search("not a video OpenCV can open|no frame could be decoded", skipped[1]["reason"])
    ds = Dataset.open(out)
    clip, sign = ds.records
    assert (clip["split"], clip["source_split"], clip["signer_id"]) == ("train", "train", "7")
    assert (sign["split"], sign["source_split"], sign["signer_id"]) == ("test_seen", "val", "3")
    # 1-based inclusive frames of the file itself: 10..36 of the clip, 73..96 of the .pose file
    assert clip["reconstruction"]["frames_in"] == 27 and clip["source"]["window"].startswith("frames 10-36 at 29.9")
    assert sign["reconstruction"]["frames_in"] == 24 and sign["source"]["window"] == "frames 73-96 at 24 fps"
    assert ds.manifest["splits"] == {"test_seen": 1, "train": 1}
    assert "WLASL" in ds.manifest["licence"] and "C-UDA 1.0" in ds.manifest["licence"]
    assert ds.manifest["reconstruction"]["stats_from"] == "train"
    assert 0 < clip["reconstruction"]["right_hand_found"] < 1 and clip["texts"]["phonology+hms"]

    # an instance WLASL's preprocess.py already cut out is used whole; a range past the file is refused
    worker = ItemWorker(BatchConfig(video_dir=str(videos), labels=str(labels), out=str(out)))
    cut = dict(items[3], frame_start=201, frame_end=370)                  # 170 frames: the file's length
    assert worker.window(cut, videos / "signer.pose") == (None, None, "whole file (already cut to frames 201-370)")
    from backend.reconstruct import ReconstructError

    with pytest.raises(ReconstructError, match="frames 150-400 lie outside its 170 frames"):
        worker.window(dict(items[3], frame_start=150, frame_end=400), videos / "signer.pose")


def test_splits_follow_data_build_without_a_split_field():
    from backend.data.dataset import split_words
    from backend.reconstruct.batch import BatchConfig, assign_splits

    words = [f"word{i:02d}" for i in range(20)]
    items = [{"id": f"{w}-{k}", "word": w, "source_split": None} for w in words for k in range(10)]
    cfg = BatchConfig(video_dir="v", labels="l.csv", out="o", seed=4)
    assign_splits(items, cfg)
    unseen = {it["word"] for it in items if it["split"] == "test_unseen"}
    assert unseen == split_words(sorted(words), 4, 0.1)[0] and len(unseen) == 2
    seen = [it["split"] for it in items if it["word"] not in unseen]
    assert set(seen) == {"train", "test_seen"} and 0.03 < seen.count("test_seen") / len(seen) < 0.2
    again = [dict(it) for it in items]
    assign_splits(again, cfg)
    assert [it["split"] for it in again] == [it["split"] for it in items]
    assign_splits(again, BatchConfig(video_dir="v", labels="l.csv", out="o", seed=5))
    assert [it["split"] for it in again] != [it["split"] for it in items]
    few = [{"id": str(k), "word": f"w{k % 3}", "source_split": None} for k in range(30)]
    assign_splits(few, cfg)                                               # 3 words: none held out
    assert {it["split"] for it in few} == {"train", "test_seen"}


def test_bad_input_is_refused_with_the_reason_and_nothing_is_written(tmp_path, videos):
    from backend.reconstruct.batch import BatchConfig, BatchError, reconstruct_batch

    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no videos here")
    good = _write_csv(tmp_path / "good.csv", ["broken.mp4,book,,,"])
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("video,word\nbroken.mp4,book\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('[{"gloss": "book", "instances": [')
    not_wlasl = tmp_path / "layout.json"
    not_wlasl.write_text(json.dumps({"book": ["broken"]}))
    no_video_id = tmp_path / "novid.json"
    no_video_id.write_text(json.dumps([{"gloss": "book", "instances": [{"frame_start": 1}]}]))
    bad_split = _write_csv(tmp_path / "split.csv", [])
    bad_split.write_text("file,gloss,split\nbroken.mp4,book,dev\n")
    absent = _write_csv(tmp_path / "absent.csv", ["nowhere.mp4,book,,,"])
    cases = [(tmp_path / "missing.json", videos, "no such labels file"),
             (good, tmp_path / "nofolder", "no such video folder"),
             (good, empty, "holds no video or .pose file"),
             (bad_header, videos, "header must name the columns file,gloss"),
             (bad_json, videos, "not valid JSON"),
             (not_wlasl, videos, "expected a list of"),
             (no_video_id, videos, "instance 0 has no video_id"),
             (bad_split, videos, "unknown split 'dev'"),
             (absent, videos, "none of the 1 files named in absent.csv is there")]
    for labels, folder, words in cases:
        with pytest.raises(BatchError, match=words):
            reconstruct_batch(BatchConfig(video_dir=str(folder), labels=str(labels), out=str(out)))
        assert not out.exists(), words
    # only broken files: refused after trying, and the reason is given
    with pytest.raises(BatchError, match="none of the 1 items could be reconstructed.*not a video"):
        reconstruct_batch(BatchConfig(video_dir=str(videos), labels=str(good), out=str(out), workers=1))
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(BatchError, match="not empty and holds no batch"):
        reconstruct_batch(BatchConfig(video_dir=str(videos), labels=str(good), out=str(other)))
    cmd = [sys.executable, "-m", "backend.cli", "reconstruct-batch", str(videos), "--labels", str(bad_header),
           "--out", str(out)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "file,gloss" in " ".join(run.stderr.split())
