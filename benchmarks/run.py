"""Benchmark runner: medians of repeated timings, written as JSON.

Run: python -m benchmarks.run [--frames 10000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def body_suite(frames: int, repeats: int) -> dict:
    from backend.body.features import features_to_pose, pose_to_features
    from backend.body.kinematics import forward_kinematics
    from backend.body.model import Body
    from backend.io import load_motion, save_motion
    from backend.motion import Motion

    rng = np.random.default_rng(0)
    poses = rng.normal(size=(frames, 55, 3)) * 0.5
    expr = rng.normal(size=(frames, 10))
    feats = pose_to_features(poses, expr)
    body = Body.load()
    rest = body.rest_joints()
    motion = Motion(poses, np.zeros((frames, 3)), expr, 25.0)
    skin_frames = min(frames, 1000)
    cases = {
        "pose_to_features": (lambda: pose_to_features(poses, expr), frames),
        "features_to_axis_angle": (lambda: features_to_pose(feats, "axis_angle"), frames),
        "features_to_quaternion": (lambda: features_to_pose(feats, "quaternion"), frames),
        "forward_kinematics_joints": (lambda: forward_kinematics(poses, rest), frames),
        "smplx_skinning_vertices": (lambda: body.pose(motion.cut(0, skin_frames)), skin_frames),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        cases["npz_write"] = (lambda: save_motion(motion, path), frames)
        save_motion(motion, path)
        cases["npz_read"] = (lambda: load_motion(path), frames)
        results = {}
        for name, (fn, n) in cases.items():
            seconds = _time(fn, repeats)
            results[name] = {"frames": n, "median_s": round(seconds, 5),
                             "frames_per_s": round(n / seconds, 1)}
            print(f"{name:28s} {n:6d} frames  {seconds * 1000:9.1f} ms  {n / seconds:12.0f} frames/s")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    out = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "repeats": args.repeats,
        "results": body_suite(args.frames, args.repeats),
    }
    path = RESULTS / "body.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
