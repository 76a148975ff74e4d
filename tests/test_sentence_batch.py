"""The batch renderer's sentences (issue 20): a sentence per line of --sentences, its signs
separated by ' | ', parsed into items (motion files relative to the file) and rendered through
a real Blender batch run and a real backend."""
import json

import pytest

TEXT = "the right hand, shaped as a fist with the thumb up, taps the chin twice"
ENTRY = "castle_2"


def test_batch_sentence_lines_split_at_bars_with_files_beside_them(tmp_path):
    from blender_addon import batch

    path = tmp_path / "s.txt"
    path.write_text(f"# two sentences\n{TEXT} | {ENTRY}\t7\nwave.npz |  motion: sub/tap.bvh | the left hand waves\n")
    assert batch.read_sentence_lines(path) == [
        ((TEXT, ENTRY), 7), ((str(tmp_path / "wave.npz"), str(tmp_path / "sub/tap.bvh"), "the left hand waves"), None)]
    for bad, said in ((f"{TEXT} |  | {ENTRY}", "line 1: sign 2 is empty"), (TEXT, "two signs or more")):
        path.write_text(bad + "\n")
        with pytest.raises(SystemExit, match=said):
            batch.read_sentence_lines(path)
    with pytest.raises(SystemExit, match="--sentences .*no such file"):
        batch.read_sentence_lines(tmp_path / "gone.txt")
    args = batch.parse_args(["--sentence", f"{ENTRY} | {TEXT}", "--sentence", f"{ENTRY} | {TEXT}",
                             "--out", str(tmp_path / "o"), "--seed", "2"])
    got = batch.items(args)
    assert [(i.name, i.seed, i.sentence) for i in got] == [
        (f"{ENTRY.replace('_', '-')}-sentence-s2", 2, (ENTRY, TEXT)),
        (f"{ENTRY.replace('_', '-')}-sentence-s3", 3, (ENTRY, TEXT))]   # a repeated line, another seed


@pytest.mark.blender
def test_batch_renders_a_sentence_per_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from backend.io import load_motion

    root = Path(__file__).resolve().parent.parent
    lines = tmp_path / "sentences.txt"
    lines.write_text(f"{ENTRY} | the left hand waves\t5\n")
    out = tmp_path / "renders"
    r = subprocess.run([sys.executable, str(root / "blender_addon" / "batch.py"), "--", "--sentences", str(lines),
                        "--out", str(out), "--format", "png", "--resolution", "48x36", "--steps", "4"],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, SIGNFORGE_BACKEND_MODE="auto"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    name = f"{ENTRY.replace('_', '-')}-sentence-s5"
    assert f"[1/1] '{ENTRY} | the left hand waves' seed 5 upper -> " in r.stdout
    [row] = json.loads((out / "summary.json").read_text())
    assert row["sentence"] == [ENTRY, "the left hand waves"] and row["ok"] and row["seed"] == 5
    assert [sp["kind"] for sp in row["spans"]] == ["sign", "transition", "sign"]
    motion = load_motion(out / f"{name}.npz")
    assert motion.num_frames == row["frames"] == row["spans"][-1]["end"]
    assert len(list((out / f"{name}-upper").glob("frame_*.png"))) == motion.num_frames
