"""Batch rendering: many prompts or motion files to videos, from the Blender command line.

    blender -b -P blender_addon/batch.py -- --prompts prompts.txt --out DIR
        [--cameras upper,hands,side] [--seed S] [--variants N] [--motions DIR]
        [--sentences sentences.txt] [--sentence "ITEM | ITEM | ..."]
        [--engine workbench|eevee|cycles] [--samples N] [--resolution WxH] [--format mp4|png]
        [--model handmdm|signavatar] [--seconds S] [--steps K] [--sampler ddim|ddpm]

The same code runs under the bpy module as ``signforge render ...``. Each prompt (one per
line, optionally ``prompt<TAB>seed``; blank lines and ``#`` comments are skipped) is generated
``--variants`` times, each with its own seed, and each motion file (.npz, .npy, .bvh) is
loaded; each sentence (one per line of ``--sentences``, its signs separated by " | ": a
description, a dictionary entry id or a motion file each, as ``signforge sentence`` reads
them) is built as one motion by the backend's ``sentence``; every motion is rendered once per camera to ``NAME-CAMERA.mp4`` (or a PNG folder) in
DIR. NAME is the prompt's slug and seed (``tap-the-chin-s3``; a sentence's: its first sign's,
``-sentence-`` and the seed) or the file's stem; a generated
motion is kept beside its videos as ``NAME.npz`` (prompt files, seeds and names are
``core.prompts``', the generation's settings a ``core.requests.GenerateRequest``), and ``summary.json`` lists every clip with
its prompt, seed and settings, so ``--prompt TEXT --seed S`` makes the same motion again.
A failing item is reported and skipped; a summary ends the run, and the exit status is 1 if
any item failed. Imports bpy.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path


def _own_package() -> str:
    """The package this file is part of, imported, when Blender runs it as a script (-P): the
    installed extension's (``bl_ext.REPO.signforge``, as Blender names it, so its preferences, its
    user folder and the backend Install Backend put there are found), else the folder's own
    (the checkout's ``blender_addon``), made importable from its parent."""
    import importlib

    here = Path(__file__).resolve().parent
    for name, module in list(sys.modules.items()):   # already imported: an enabled extension
        if any(Path(p).resolve() == here for p in getattr(module, "__path__", None) or ()):
            return name
    try:
        import bpy

        for repo in bpy.context.preferences.extensions.repos:
            if repo.enabled and repo.directory and Path(repo.directory).resolve() == here.parent:
                name = f"bl_ext.{repo.module}.{here.name}"
                importlib.import_module(name)
                return name
    except (ImportError, AttributeError):   # no bpy, or a Blender without extensions
        pass
    sys.path.insert(0, str(here.parent))
    importlib.import_module(here.name)
    return here.name


if __package__ in (None, ""):
    __package__ = _own_package()  # noqa: A001

from .core.limits import MAX_RENDER_SIDE  # noqa: E402  (after the package is importable)
from .core.prompts import PromptsError, UniqueNames, assign_seeds, read_prompts, slug, take_name  # noqa: E402
from .core.requests import GenerateRequest, RequestError  # noqa: E402

MOTION_SUFFIXES = (".npz", ".npy", ".bvh")
# the camera presets (blender/render.py's CAMERAS, which imports bpy; a test checks they agree)
CAMERAS = ("full", "upper", "hands", "right", "left", "side")
MAX_VARIANTS = 64

EPILOG = """cameras (--cameras, comma-separated; one clip per camera, named NAME-CAMERA):
  full    the full body, from the front
  upper   the upper body and hands (head to hips), from the front (default)
  hands   both hands, close up, from the front
  right   the right hand, close up, from the front
  left    the left hand, close up, from the front
  side    the upper body and hands from the signer's right side (depth)
full, upper and side are fitted to their joints over the whole take; the close-ups (hands,
right, left) follow the signing hands (above the waist) at one distance sized to the hands,
so a handshape fills the frame wherever it is made.

sentences (--sentences FILE, --sentence TEXT): one sentence a line, its signs separated by
' | ' (each a description, a dictionary entry id such as castle_2, or a motion file, relative
to FILE's folder), optionally '<TAB>seed'; sign k is made with seed + k and the transitions
between signs are generated, as in `signforge sentence`.
  the right fist taps the chin twice | castle_2 | Move your flat right hand forward from the chest

output in DIR: NAME-CAMERA.mp4 (or a NAME-CAMERA folder of PNG frames), NAME.npz (the
generated motion) and summary.json (every clip's prompt, seed, camera and settings); NAME is
the prompt's slug and seed (tap-the-chin-s3) or the motion file's stem.

seeds: a line 'prompt<TAB>seed' uses that seed (its variants seed+1, seed+2...); other lines
take --seed, --seed+1... in order, one per line and variant, so repeated lines differ.
Each clip's seed is in its name and in DIR/summary.json.
"""


@dataclass(frozen=True)
class Item:
    name: str
    prompt: str | None = None
    motion: Path | None = None
    seed: int | None = None
    variant: int = 1
    sentence: tuple[str, ...] | None = None   # a sentence's signs, as the sentence request reads them


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line naming the problem (argparse prints its usage block first)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="signforge render", description=__doc__.split("\n\n")[0], epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=Path, help="text file, one prompt per line ('prompt<TAB>seed' "
                                                     "fixes its seed)")
    parser.add_argument("--motions", type=Path, help="folder of motion files (.npz, .npy, .bvh) to render")
    parser.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    parser.add_argument("--sentences", type=Path, help="text file, one sentence per line, its signs separated "
                                                       "by ' | ' ('<TAB>seed' fixes its seed)")
    parser.add_argument("--sentence", action="append", default=[],
                        help="a sentence, its signs separated by ' | ' (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cameras", default="upper",
                        help=f"comma-separated camera presets: {', '.join(CAMERAS)} (default: upper)")
    parser.add_argument("--engine", default="workbench", choices=("workbench", "eevee", "cycles"))
    parser.add_argument("--samples", type=int, default=32,
                        help="render samples for Cycles (denoised with OpenImageDenoise) and EEVEE (default 32)")
    parser.add_argument("--resolution", default="640x480", help="WxH in pixels")
    parser.add_argument("--format", default="mp4", choices=("mp4", "png"))
    parser.add_argument("--model", default="handmdm", choices=("handmdm", "signavatar"))
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each take (default: the model's for the prompt, the planned take's)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--sampler", default="ddim", choices=("ddim", "ddpm"),
                        help="HandMDM: ddim (deterministic, --steps) or ddpm (stochastic, all 100 steps)")
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--refine", type=float, default=None,
                        help="HandMDM: how far the model redraws the take planned from the prompt (0 keeps "
                             "the plan, 1 samples without one; default: the backend's)")
    parser.add_argument("--seed", type=int, default=0, help="base seed: lines without their own seed take "
                                                            "seed, seed+1... (default 0)")
    parser.add_argument("--variants", type=int, default=1, help="motions generated per prompt, each with its "
                                                                "own seed (default 1)")
    parser.add_argument("--run", type=Path, help="a trained run folder instead of the shipped weights")
    parser.add_argument("--smplx", type=Path, help="your SMPL-X model file (default: the mannequin)")
    parser.add_argument("--python", default="", help="backend Python (default: the add-on's: its preferences' "
                                                     "Backend Python or Remote backend, the backend Install "
                                                     "Backend made, Blender's own, the repository's .venv)")
    args = parser.parse_args(argv)
    if not (args.prompts or args.motions or args.prompt or args.sentences or args.sentence):
        parser.error("give --prompts FILE, --prompt TEXT, --sentences FILE, --sentence TEXT or --motions DIR")
    match = re.fullmatch(r"(\d+)x(\d+)", args.resolution)
    if not match or not all(16 <= int(v) <= MAX_RENDER_SIDE for v in match.groups()):
        parser.error(f"--resolution {args.resolution!r}: expected WxH with each side 16 to {MAX_RENDER_SIDE}, "
                     f"such as 640x480")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; name a folder for the renders")
    cams = [c.strip().lower() for c in args.cameras.split(",") if c.strip()]
    bad = [c for c in cams if c not in CAMERAS]
    if bad or not cams:
        parser.error(f"--cameras {args.cameras!r}: unknown camera {', '.join(bad) or '(none)'}; "
                     f"choose from {', '.join(CAMERAS)}")
    args.cameras = tuple(dict.fromkeys(cams))   # in the order given, once each
    if not 1 <= args.variants <= MAX_VARIANTS:
        parser.error(f"--variants {args.variants}: expected 1 to {MAX_VARIANTS}")
    if not 1 <= args.samples <= 4096:
        parser.error(f"--samples {args.samples}: expected 1 to 4096")
    for key in ("prompts", "sentences", "motions", "out", "run", "smplx"):   # the backend runs in a folder of its own
        if getattr(args, key) is not None:
            setattr(args, key, getattr(args, key).absolute())
    try:   # every prompt's request: these settings, its own prompt and seed (items)
        args.request = GenerateRequest(
            prompt="-", model=args.model, seconds=args.seconds, steps=args.steps, guidance=args.guidance,
            sampler=args.sampler, seed=args.seed, refine=args.refine if args.model == "handmdm" else None,
            run=None if args.run is None else str(args.run))
    except RequestError as exc:
        parser.error(exc.as_options())
    return args


def sentence_signs(text: str, base: Path | None = None, where: str = "--sentence") -> tuple[str, ...]:
    """A sentence line's signs: split at '|', each stripped; a motion file (a name ending in .npz,
    .npy or .bvh, with no spaces, or after 'motion:') relative to ``base``. ``SystemExit`` with one
    line when a sign is empty or the line has only one."""
    signs = []
    for k, part in enumerate(text.split("|"), 1):
        part = part.strip()
        if not part:
            raise SystemExit(f"signforge render: {where}: sign {k} is empty (separate signs with ' | ')")
        name = part[len("motion:"):].strip() if part.lower().startswith("motion:") else part
        if base is not None and Path(name).suffix.lower() in MOTION_SUFFIXES and " " not in name:
            path = Path(name).expanduser()
            part = str(path if path.is_absolute() else base / path)
        signs.append(part)
    if len(signs) < 2:
        raise SystemExit(f"signforge render: {where}: a sentence has two signs or more, separated by ' | '; "
                         f"got {text.strip()!r}")
    return tuple(signs)


def read_sentence_lines(path: Path) -> list[tuple[tuple[str, ...], int | None]]:
    """(signs, seed or None) per sentence line of ``path`` (its lines read as a prompt file's)."""
    try:
        lines = read_prompts(path, "sentences")
    except PromptsError as exc:
        raise SystemExit(f"signforge render: --sentences {exc}") from None
    return [(sentence_signs(line.text, path.parent, f"{path}, line {line.number}"), line.seed) for line in lines]


def items(args) -> list[Item]:
    out: list[Item] = []
    unique = UniqueNames()
    lines: list[tuple[str, int | None]] = [(p.strip(), None) for p in args.prompt if p.strip()]
    if args.prompts:
        try:
            lines += [(line.text, line.seed) for line in read_prompts(args.prompts)]
        except PromptsError as exc:
            raise SystemExit(f"signforge render: --prompts {exc}") from None
    out += [Item(unique(take_name(p, s)), prompt=p, seed=s, variant=v)
            for p, s, v in assign_seeds(lines, args.seed, args.variants)]
    sentences = [(sentence_signs(t, Path.cwd()), None) for t in args.sentence if t.strip()]
    if args.sentences:
        sentences += read_sentence_lines(args.sentences)
    by_text = {" | ".join(signs): signs for signs, _ in sentences}
    for text, s, v in assign_seeds([(" | ".join(signs), seed) for signs, seed in sentences], args.seed, args.variants):
        first = by_text[text][0]
        stem = Path(first).stem if Path(first).suffix.lower() in MOTION_SUFFIXES else first
        out.append(Item(unique(take_name(stem, s, tag="sentence")), seed=s, variant=v, sentence=by_text[text]))
    if args.motions:
        if not args.motions.is_dir():
            raise SystemExit(f"signforge render: --motions {args.motions}: not a folder")
        files = sorted(p for p in args.motions.iterdir() if p.suffix.lower() in MOTION_SUFFIXES)
        out += [Item(unique(slug(p.stem)), motion=p) for p in files]
    if not out:
        raise SystemExit("signforge render: nothing to render (no prompts, sentences or motion files)")
    return out


def write_summary(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run(argv: list[str]) -> int:
    import bpy

    from .blender import render as RN
    from .blender.animate import apply_motion, name_limit, set_scene_rate
    from .blender.body import build_body
    from .core.bodyfile import read_body
    from .blender import session
    from .core.client import BackendError
    from .core.jobs import Job
    from .core import scratch
    from .core.motion import read_motion
    from .core.takes import take_name

    args = parse_args(argv)
    width, height = (int(v) for v in args.resolution.split("x"))
    settings = RN.RenderSettings(engine=args.engine, width=width, height=height, format=args.format,
                                 samples=args.samples, cameras=args.cameras)
    settings.check()
    todo = items(args)
    args.out.mkdir(parents=True, exist_ok=True)
    scratch.sweep(scratch.root(), "")   # what a crashed batch or Blender session left
    work = scratch.session_folder()   # the backend's files; removed however the batch ends
    try:   # where the add-on's backend runs: its preferences, the backend Install Backend made...
        where = session.describe(python=args.python)
    except BackendError as exc:
        raise SystemExit(f"signforge render: {exc}") from None
    backend = session.make(python=args.python)
    total = len(todo) * len(args.cameras)
    engine = args.engine
    if args.engine == "cycles":
        engine += (f", {args.samples} samples, OpenImageDenoise" if RN.has_denoiser()
                   else f", {args.samples} samples, no denoiser (this Blender's Cycles lacks OpenImageDenoise)")
    elif args.engine == "eevee":
        engine += f", {args.samples} samples"
    print(f"signforge render: {total} clip(s) of {len(todo)} motion(s) x {len(args.cameras)} camera(s) "
          f"({', '.join(args.cameras)}) -> {args.out} ({engine}, {args.resolution}, {args.format}); {where}", flush=True)

    tty = sys.stdout.isatty()

    def ask(method: str, params: dict, label: str) -> tuple[dict, list[str]]:
        shown = [-1]

        def show(job):
            # a terminal gets a live percentage, overwritten by the item's line; a log gets nothing
            pct = int(job.fraction * 100)
            if tty and pct != shown[0]:
                shown[0] = pct
                print(f"\r  {label}: {pct:3d}%", end="", flush=True)

        try:
            job = Job(backend, [(method, params)], label=label).start().wait(on_progress=show)
        except BackendError as exc:   # the backend did not start: every item would fail alike
            raise RuntimeError(str(exc)) from None
        if tty:
            print("\r\x1b[K", end="", flush=True)
        if not job.ok:
            raise RuntimeError(job.error)
        return job.result(0), list(job.notices)

    summary = args.out / "summary.json"
    rows, failures, done = [], [], []
    k = 0
    try:
        try:
            body = read_body(ask("body", {"smplx": str(args.smplx) if args.smplx else None,
                                          "out": str(work / "body.npz")}, "body")[0]["path"])
        except (RuntimeError, ValueError) as exc:   # no backend, or no body: nothing can render
            print(f"signforge render: {exc}", file=sys.stderr, flush=True)
            return 1
        for item in todo:
            t0 = time.perf_counter()
            what = repr(item.prompt) if item.prompt is not None else \
                repr(" | ".join(item.sentence)) if item.sentence is not None else item.motion.name
            seed = f" seed {item.seed}" if item.seed is not None else ""
            row = {"prompt": item.prompt, "seed": item.seed, "variant": item.variant,
                   "source": str(item.motion) if item.motion else None}
            if item.sentence is not None:
                row.update(sentence=list(item.sentence), steps=args.steps, guidance=args.guidance,
                           motion=f"{item.name}.npz")
            if item.prompt is not None:
                row.update(model=args.model, seconds=args.seconds, steps=args.steps, guidance=args.guidance,
                           sampler=args.sampler, run=str(args.run) if args.run else None, motion=f"{item.name}.npz")
            notes, scene, arm, motion = [], None, None, None
            try:   # the motion and its scene, shared by the item's cameras
                if item.prompt is not None:
                    asked = replace(args.request, prompt=item.prompt, seed=item.seed)
                    result, notes = ask("generate", asked.params(str(work)), "generate")
                    path = result["motions"][0]
                elif item.sentence is not None:
                    result, notes = ask("sentence", {"items": list(item.sentence), "seed": item.seed,
                                                     "steps": args.steps, "guidance": args.guidance,
                                                     "out": str(work / f"{item.name}.npz")}, "sentence")
                    path = result["path"]
                    row["spans"] = [{k: sp[k] for k in ("kind", "start", "end", "source") if k in sp}
                                    for sp in result.get("spans", ())]
                else:
                    result, notes = ask("load_motion", {"path": str(item.motion),
                                                        "out": str(work / f"{item.name}.npz")}, "load")
                    path = result["path"]
                motion = read_motion(path)
                if item.motion is None:   # keep the generated motion beside its videos
                    shutil.copyfile(path, args.out / f"{item.name}.npz")
                bpy.ops.wm.read_factory_settings(use_empty=True)
                scene = bpy.context.scene
                arm = build_body(bpy.context, body, "SMPL-X")
                # this scene is the batch's own: it renders the take at the motion's own rate, whole
                set_scene_rate(scene, motion.fps)
                name = take_name(item.prompt or motion.text, item.name, limit=name_limit())
                props = None
                if item.prompt is not None:
                    props = {"signforge_prompt": item.prompt, "signforge_seed": str(item.seed)}
                elif item.sentence is not None:
                    props = {"signforge_sentence_items": json.dumps(list(item.sentence)),
                             "signforge_seed": str(item.seed)}
                apply_motion(bpy.context, arm, motion, name, mode="ACTION", frame=1, fit_scene=True,
                             properties=props)
                cams = RN.setup(scene, arm, settings)
                prepared = None
            except Exception as exc:   # one bad item must not stop the batch
                prepared = str(exc)
            for camera in args.cameras:
                k += 1
                target = args.out / f"{item.name}-{camera}"
                target = target.with_suffix(".mp4") if args.format == "mp4" else target
                try:
                    if prepared is not None:
                        raise RuntimeError(prepared)
                    RN.render(scene, target, args.format, camera=cams[camera])
                    done.append(target)
                    status = f"-> {target} ({motion.frames} frames, {time.perf_counter() - t0:.1f} s)"
                    rows.append({**row, "camera": camera, "clip": target.name, "frames": motion.frames,
                                 "ok": True})
                except Exception as exc:   # one bad item must not stop the batch
                    failures.append((f"{item.name}-{camera}", str(exc)))
                    status = f"FAILED: {exc} ({time.perf_counter() - t0:.1f} s)"
                    rows.append({**row, "camera": camera, "clip": None, "ok": False, "error": str(exc)})
                note = "".join(f"; note: {n}" for n in notes) if camera == args.cameras[0] else ""
                print(f"[{k}/{total}] {what}{seed} {camera} {status}{note}", flush=True)
                t0 = time.perf_counter()
            write_summary(summary, rows)
    finally:
        backend.close()
        scratch.remove(work)
    print(f"signforge render: {len(done)} rendered, {len(failures)} failed; seeds and settings in {summary}",
          flush=True)
    for name, why in failures:
        print(f"  {name}: {why}", flush=True)
    return 1 if failures else 0


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
