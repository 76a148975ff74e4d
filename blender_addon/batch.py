"""Batch rendering: many prompts or motion files to videos, from the Blender command line.

    blender -b -P blender_addon/batch.py -- --prompts prompts.txt --out DIR
        [--motions DIR] [--engine workbench|eevee|cycles] [--resolution WxH]
        [--format mp4|png] [--model handmdm|signavatar] [--seconds S] [--steps K] [--seed S]

The same code runs under the bpy module as ``signforge render ...``. Each prompt (one per
line; blank lines and ``#`` comments are skipped) and each motion file (.npz, .npy, .bvh)
becomes one video or PNG folder in DIR, named from its prompt or file; a generated motion
is kept beside its video as ``NAME.npz``. A failing item is
reported and skipped; a summary ends the run, and the exit status is 1 if any item failed.
Imports bpy.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # run as a script by Blender (-P): make the package importable from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "blender_addon"  # noqa: A001

from .core.limits import MAX_RENDER_SIDE  # noqa: E402  (after the package is importable)

MOTION_SUFFIXES = (".npz", ".npy", ".bvh")


@dataclass(frozen=True)
class Item:
    name: str
    prompt: str | None = None
    motion: Path | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line naming the problem (argparse prints its usage block first)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="signforge render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, help="text file, one prompt per line")
    parser.add_argument("--motions", type=Path, help="folder of motion files (.npz, .npy, .bvh) to render")
    parser.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--engine", default="workbench", choices=("workbench", "eevee", "cycles"))
    parser.add_argument("--resolution", default="640x480", help="WxH in pixels")
    parser.add_argument("--format", default="mp4", choices=("mp4", "png"))
    parser.add_argument("--model", default="handmdm", choices=("handmdm", "signavatar"))
    parser.add_argument("--seconds", type=float, default=2.4)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", type=Path, help="a trained run folder instead of the shipped weights")
    parser.add_argument("--smplx", type=Path, help="your SMPL-X model file (default: the mannequin)")
    parser.add_argument("--python", default="", help="backend Python (default: Blender's own, else the "
                                                     "repository's .venv)")
    args = parser.parse_args(argv)
    if not (args.prompts or args.motions or args.prompt):
        parser.error("give --prompts FILE, --prompt TEXT or --motions DIR")
    match = re.fullmatch(r"(\d+)x(\d+)", args.resolution)
    if not match or not all(16 <= int(v) <= MAX_RENDER_SIDE for v in match.groups()):
        parser.error(f"--resolution {args.resolution!r}: expected WxH with each side 16 to {MAX_RENDER_SIDE}, "
                     f"such as 640x480")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; name a folder for the renders")
    return args


def slug(text: str, limit: int = 48) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s[:limit].rstrip("-") or "item")


def items(args) -> list[Item]:
    out, seen = [], set()

    def unique(name: str) -> str:
        base, k = name, 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        return name

    prompts = list(args.prompt)
    if args.prompts:
        if not args.prompts.is_file():
            raise SystemExit(f"signforge render: --prompts {args.prompts}: no such file")
        lines = args.prompts.read_text(encoding="utf-8").splitlines()
        prompts += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    out += [Item(unique(slug(p)), prompt=p) for p in prompts]
    if args.motions:
        if not args.motions.is_dir():
            raise SystemExit(f"signforge render: --motions {args.motions}: not a folder")
        files = sorted(p for p in args.motions.iterdir() if p.suffix.lower() in MOTION_SUFFIXES)
        out += [Item(unique(slug(p.stem)), motion=p) for p in files]
    if not out:
        raise SystemExit("signforge render: nothing to render (no prompts, no motion files)")
    return out


def run(argv: list[str]) -> int:
    import bpy

    from .blender import render as RN
    from .blender.animate import apply_motion, name_limit, set_scene_rate
    from .blender.body import build_body
    from .core.bodyfile import read_body
    from .core.client import make_backend
    from .core.jobs import Job
    from .core import scratch
    from .core.motion import read_motion
    from .core.takes import take_name

    args = parse_args(argv)
    width, height = (int(v) for v in args.resolution.split("x"))
    settings = RN.RenderSettings(engine=args.engine, width=width, height=height, format=args.format)
    settings.check()
    todo = items(args)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch.sweep(scratch.root(), "")   # what a crashed batch or Blender session left
    work = scratch.session_folder()   # the backend's files; removed however the batch ends
    backend = make_backend(args.python, Path(__file__).resolve().parent)
    print(f"signforge render: {len(todo)} item(s) -> {args.out} ({args.engine}, {args.resolution}, {args.format})",
          flush=True)

    tty = sys.stdout.isatty()

    def ask(method: str, params: dict, label: str) -> dict:
        shown = [-1]

        def show(job):
            # a terminal gets a live percentage; a log gets a line per quarter
            pct = int(job.fraction * 100)
            step = 1 if tty else 25
            if pct // step != shown[0] // step:
                shown[0] = pct
                print(f"\r  {label}: {pct:3d}%" if tty else f"  {label}: {pct:3d}%", end="" if tty else "\n",
                      flush=True)

        job = Job(backend, [(method, params)], label=label).start().wait(on_progress=show)
        if job.ok:
            print(f"\r  {label}: done" if tty else f"  {label}: done", flush=True)
        for notice in job.notices:
            print(f"  note: {notice}", flush=True)
        if not job.ok:
            raise RuntimeError(job.error)
        return job.result(0)

    failures, done = [], []
    try:
        body_params = {"smplx": str(args.smplx) if args.smplx else None, "out": str(work / "body.npz")}
        body = read_body(ask("body", body_params, "body")["path"])
        for k, item in enumerate(todo, 1):
            t0 = time.perf_counter()
            print(f"[{k}/{len(todo)}] {item.name}", flush=True)
            try:
                if item.prompt is not None:
                    params = {"prompt": item.prompt, "model": args.model, "seconds": args.seconds,
                              "steps": args.steps, "guidance": args.guidance, "seed": args.seed, "num": 1,
                              "out_dir": str(work)}
                    if args.run:
                        params["run"] = str(args.run)
                    path = ask("generate", params, "generate")["motions"][0]
                else:
                    path = ask("load_motion", {"path": str(item.motion), "out": str(work / f"{item.name}.npz")},
                               "load")["path"]
                motion = read_motion(path)
                if item.prompt is not None:   # keep the generated motion beside its video
                    shutil.copyfile(path, args.out / f"{item.name}.npz")
                bpy.ops.wm.read_factory_settings(use_empty=True)
                scene = bpy.context.scene
                arm = build_body(bpy.context, body, "SMPL-X")
                # this scene is the batch's own: it renders the take at the motion's own rate, whole
                set_scene_rate(scene, motion.fps)
                name = take_name(item.prompt or motion.text, item.name, limit=name_limit())
                apply_motion(bpy.context, arm, motion, name, mode="ACTION", frame=1, fit_scene=True,
                             properties={"signforge_prompt": item.prompt} if item.prompt else None)
                RN.setup(scene, arm, settings)
                target = RN.render(scene, args.out / item.name, args.format)
                done.append(target)
                print(f"  wrote {target} ({motion.frames} frames, {time.perf_counter() - t0:.1f} s)", flush=True)
            except Exception as exc:   # one bad item must not stop the batch
                failures.append((item.name, str(exc)))
                print(f"  FAILED {item.name}: {exc}", flush=True)
    finally:
        backend.close()
        scratch.remove(work)
    print(f"signforge render: {len(done)} rendered, {len(failures)} failed", flush=True)
    for name, why in failures:
        print(f"  {name}: {why}", flush=True)
    return 1 if failures else 0


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
