"""A user's mistake or a hostile small file: one clear line, a documented exit code, nothing
written or changed, and bounded memory. Each case runs the real ``signforge`` CLI in a
subprocess whose peak resident memory is read back with ``resource``.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from backend.body.mannequin import build_model_arrays
from backend.io import MotionFileError, load_motion, save_motion
from backend.runs import SHIPPED
from blender_addon.core.limits import MAX_FRAMES
from blender_addon.core.motion import MotionFileError as AddonMotionFileError
from blender_addon.core.motion import read_motion
from conftest import default_sigint, random_motion

PEAK_MB = 1500   # torch, the model and one clip fit in this; the bad inputs asked for 2-10 GB
# runs the CLI, then writes this process's peak RSS (kB on Linux) where the test reads it
RUNNER = ("import atexit, os, resource, sys\n"
          "atexit.register(lambda: open(os.environ['PEAK_FILE'], 'w').write("
          "str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
          "sys.argv = ['signforge'] + sys.argv[1:]\n"
          "from backend.cli import main\n"
          "main()\n")


def signforge(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    peak = tmp_path / "peak.txt"
    run = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PEAK_FILE": str(peak), "COLUMNS": "200"}, cwd=tmp_path)
    return run, int(peak.read_text()) / 1024 if peak.exists() else 0.0


def _npy(a: np.ndarray) -> bytes:
    fh = io.BytesIO()
    np.save(fh, a, allow_pickle=False)
    return fh.getvalue()


def _npz_declaring(path: Path, frames: int) -> Path:
    """A small .npz whose 'poses' header declares ``frames`` frames (the data is not there)."""
    fh = io.BytesIO()
    np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (frames, 165)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("poses.npy", fh.getvalue() + b"\0" * 4096)
        z.writestr("trans.npy", _npy(np.zeros((2, 3), np.float32)))
        z.writestr("mocap_frame_rate.npy", _npy(np.float64(25.0)))
    return path


def _bvh(path: Path, joints: str, frames: int, row: str) -> Path:
    path.write_text(f"HIERARCHY\n{joints}\nMOTION\nFrames: {frames}\nFrame Time: 0.04\n{row}\n")
    return path


ROOT_OK = ("ROOT pelvis\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
           "Yrotation\n End Site\n {\n OFFSET 0 0.1 0\n }\n}")


def _cases(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(name, CLI arguments, words the one-line message must hold)."""
    motion = tmp / "ok.npz"
    save_motion(random_motion(np.random.default_rng(0), frames=8, text="[/x] \x1b[31mred"), motion)
    bad_fps = tmp / "fps.npz"
    with np.load(motion) as z:
        arrays = dict(z)
    arrays["mocap_frame_rate"] = np.array("fast")
    np.savez(bad_fps, **arrays)
    nan_body = tmp / "nan" / "SMPLX_NEUTRAL.npz"
    nan_body.parent.mkdir()
    model = build_model_arrays()
    model["v_template"][7] = np.nan
    np.savez(nan_body, **model)
    big_npy = tmp / "big.npy"
    with open(big_npy, "wb") as fh:   # sparse: 600 MB on paper, nothing on disk
        fh.write(np.lib.format.magic(1, 0))
        fh.truncate(600 << 20)
    out = str(tmp / "out.npz")
    bad_run = tmp / "run"
    bad_run.mkdir()
    (bad_run / "config.json").write_text("{not json")
    (tmp / "a-folder.npz").mkdir()
    wide_run = tmp / "wide"
    shutil.copytree(SHIPPED["handmdm"], wide_run)
    config = json.loads((wide_run / "config.json").read_text())
    config["model"]["width"] = 65536
    (wide_run / "config.json").write_text(json.dumps(config))
    big_csv = tmp / "labels.csv"
    big_csv.write_text("file,gloss\nclip.mp4," + "x" * 200_000 + "\n")
    return [
        ("run config that is not JSON", ["generate", "a fist", "-o", out, "--run", str(bad_run)], "config.json"),
        ("a folder as the output", ["convert", str(motion), str(tmp / "a-folder.npz")], "folder"),
        ("npz declaring 10M frames", ["info", str(_npz_declaring(tmp / "huge.npz", 10_000_000))],
         f"10000000 frames; the limit is {MAX_FRAMES}"),
        ("600 MB npy", ["info", str(big_npy)], "over the 512 MB limit"),
        ("BVH declaring 200k frames", ["convert", str(_bvh(tmp / "long.bvh", ROOT_OK, 200_000, "0 " * 6)), out],
         "200000 frames; the limit is"),
        ("BVH one rotation channel", ["convert", str(_bvh(tmp / "one.bvh", ROOT_OK.replace(
            "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation", "CHANNELS 1 Zrotation"),
            1, "0")), out], "1 rotation channel"),
        ("BVH unknown channel", ["convert", str(_bvh(tmp / "odd.bvh", ROOT_OK.replace("Yrotation", "Wrotation"),
                                                     1, "0 " * 6)), out], "unknown channel 'Wrotation'"),
        ("BVH duplicate joint", ["convert", str(_bvh(tmp / "dup.bvh", ROOT_OK.replace(
            " End Site\n {\n OFFSET 0 0.1 0\n }", " JOINT pelvis\n {\n OFFSET 0 0.1 0\n CHANNELS 3 Zrotation "
            "Xrotation Yrotation\n End Site\n {\n OFFSET 0 0.1 0\n }\n }"), 1, "0 " * 9)), out],
         "pelvis appears more than once"),
        ("fps as a string", ["info", str(bad_fps)], "'mocap_frame_rate' is not a number"),
        ("body model with NaN", ["body", "sites", "--smplx", str(nan_body)], "non-finite"),
        ("--num 10000", ["generate", "a fist", "-o", out, "--num", "10000"], "less than or equal to 64"),
        ("--seconds 1e308", ["generate", "a fist", "-o", out, "--seconds", "1e308"], "seconds must be"),
        ("--seed 2**70", ["generate", "a fist", "-o", out, "--seed", str(2 ** 70)],
         f"--seed must be at most {2 ** 63 - 1}; got {2 ** 70}"),
        ("--steps 100000", ["generate", "a fist", "-o", out, "--steps", "100000"], "--steps must be at most 100"),
        ("preview --frames 100000", ["preview", str(motion), "-o", str(tmp / "sheet.png"), "--frames", "100000"],
         "less than or equal to 64"),
        ("a mistyped option", ["generate", "a fist", "-o", out, "--nmu", "3"], "No such option: --nmu"),
        ("run config width 65536", ["generate", "a fist", "-o", out, "--run", str(wide_run)],
         "width=65536 is outside 0..4096"),
        ("labels CSV field over 128 KB", ["reconstruct-batch", str(tmp), "--labels", str(big_csv), "--out",
                                         str(tmp / "ds")], "not a readable CSV"),
        ("render --resolution 0x0", ["render", "--prompt", "a fist", "--out", str(tmp / "renders"),
                                     "--resolution", "0x0"], "each side 16 to"),
        ("render --out a file", ["render", "--prompt", "a fist", "--out", str(motion)], "is a file"),
        ("--word-sets 100000", ["data", "build", "--out", str(tmp / "ds"), "--samples", "4", "--word-sets",
                                "100000"], "a word set's size must be between 1 and 2000"),
    ]


def test_bad_inputs_get_one_line_and_change_nothing(tmp_path):
    cases = _cases(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size < 50 << 20}
    failures = []
    for name, args, words in cases:
        run, peak = signforge(tmp_path, *args)
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        problems = []
        if run.returncode != 2:
            problems.append(f"exit {run.returncode}")
        if len(lines) != 1 or "Traceback" in run.stderr:
            problems.append(f"{len(lines)} lines on stderr")
        if words not in run.stderr:
            problems.append(f"message lacks {words!r}")
        if peak > PEAK_MB:
            problems.append(f"peak memory {peak:.0f} MB")
        if problems:
            failures.append(f"{name}: {', '.join(problems)}\n    {run.stderr.strip()[-400:]}")
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "sheet.png").exists()
    assert not (tmp_path / "ds").exists() and not (tmp_path / "renders").exists()
    after = {p: p.read_bytes() for p in before}
    assert after == before, "an input file changed"


def test_info_prints_file_text_as_text(tmp_path):
    motion = tmp_path / "m.npz"
    save_motion(random_motion(np.random.default_rng(0), frames=8, text="[/x] [bold]not bold \x1b[31mred"),
                motion)
    run, _ = signforge(tmp_path, "info", str(motion))
    assert run.returncode == 0, run.stderr
    assert "[/x] [bold]not bold" in run.stdout and "\x1b[31m" not in run.stdout


def test_readers_check_declared_frames_before_allocating(tmp_path):
    huge = _npz_declaring(tmp_path / "huge.npz", 10_000_000)
    with pytest.raises(MotionFileError, match="the limit is"):
        load_motion(huge)
    with pytest.raises(AddonMotionFileError, match="the limit is"):
        read_motion(huge)   # the add-on's own reader shares the check
    ok = tmp_path / "ok.npz"
    save_motion(random_motion(np.random.default_rng(1), frames=30), ok)
    assert load_motion(ok).num_frames == 30 == read_motion(ok).frames


def test_a_bvh_round_trip_still_reads(tmp_path, body):
    m = random_motion(np.random.default_rng(2), frames=10, scale=0.3)
    path = save_motion(m, tmp_path / "m.bvh", body=body)
    back = load_motion(path)
    assert back.num_frames == 10
    np.testing.assert_allclose(back.trans, m.trans, atol=1e-5)


def test_no_motion_carries_a_non_finite_provenance_number():
    from backend.motion import Motion, MotionError

    for bad in ("nan", "NaN", "-inf", "Infinity"):
        with pytest.raises(MotionError, match="'reprojection_px' is not a finite number"):
            Motion.rest(4, provenance={"reprojection_px": bad})
    assert Motion.rest(4, provenance={"reprojection_px": "13.6", "note": "infinite loop"}).provenance


def test_debug_shows_the_traceback(tmp_path):
    run, _ = signforge(tmp_path, "info", str(tmp_path / "missing.npz"), "--debug")
    assert run.returncode != 0 and "Traceback" not in run.stderr   # a refusal is a refusal, even in debug
    huge = _npz_declaring(tmp_path / "huge.npz", 10_000_000)
    quiet, _ = signforge(tmp_path, "info", str(huge))
    assert quiet.returncode == 2 and len(quiet.stderr.strip().splitlines()) == 1


def test_ctrl_c_during_a_data_build_is_one_line_and_resumable(tmp_path):
    out = tmp_path / "ds"
    env = {**os.environ, "PEAK_FILE": str(tmp_path / "peak.txt")}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, "data", "build", "--out", str(out), "--samples", "3000",
                             "--word-sets", "", "--shard-size", "64"], stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path, preexec_fn=default_sigint)
    deadline = time.monotonic() + 240
    while not list(out.glob("shard-*.npz")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert list(out.glob("shard-*.npz")), "no shard was finished before the deadline"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert [ln for ln in stderr.splitlines() if ln.strip()] == ["interrupted"]
    assert not list(out.glob(".signforge-tmp-*")) or all(p.is_file() for p in out.glob(".signforge-tmp-*"))
