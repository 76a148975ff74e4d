"""``signforge eval prompts``: people's prompts (``backend/eval/people.jsonl``) generated and
checked on the motion (``backend.eval.prompts``), written to ``reports/people-prompts.md``.

For each prompt and seed the take is generated as a user gets it (``generate`` with its
defaults), every expectation of the prompt is checked, and the same takes are checked
again against another prompt's expectations (the chance level: what a take that ignores
its text would score). The kinematic bars of issue 15 are measured on the same takes.
torch through ``generate``; never bpy.
"""
from __future__ import annotations

import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from backend.eval import fidelity as F
from backend.eval import prompts as P

from .fidelity import _shown_path


@dataclass
class PromptResult:
    checked: list[P.Checked] = field(default_factory=list)
    chance: dict[str, tuple[int, int]] = field(default_factory=dict)    # split -> shuffled (met, set)
    peaks: list[float] = field(default_factory=list)
    fast: tuple[int, int] = (0, 0)
    seconds: float = 0.0
    seeds: int = 1
    refine: float = 0.0


def evaluate_prompts(seeds: int = 3, path: str | Path = P.PEOPLE, run_dir=None, steps: int = 50,
                     guidance: float = 2.5, refine: float | None = None,
                     progress: Callable[[str, int, int], None] | None = None, device: str = "cpu") -> PromptResult:
    """Generate every prompt of ``path`` ``seeds`` times and check each take."""
    from backend.body.model import Body
    from backend.generate import REFINE, generate

    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1; got {seeds}")
    prompts = P.load_prompts(path)
    body = Body.load()
    out = PromptResult(seeds=seeds, refine=REFINE if refine is None else refine)
    t0 = time.time()
    motions = []
    fast = total = 0
    for i, prompt in enumerate(prompts):
        if progress:
            progress("prompts", i, len(prompts))
        for seed in range(seeds):
            kwargs = {} if run_dir is None else {"run_dir": run_dir}
            motion = generate(prompt.text, seed=seed, steps=steps, guidance=guidance, refine=refine, device=device,
                              **kwargs)[0]
            motions.append((motion, prompt))
            out.checked.append(P.check(motion, body, prompt))
            out.peaks.append(F.peak_speed(motion, body))
            n, m = F.fast_steps(motion, body)
            fast, total = fast + n, total + m
    if progress:
        progress("prompts", len(prompts), len(prompts))
    for split in P.SPLITS:
        mine = [(m, p) for m, p in motions if p.split == split]
        if mine:
            out.chance[split] = P.shuffled([m for m, _ in mine], body, [p for _, p in mine])
    out.fast, out.seconds = (fast, total), time.time() - t0
    return out


def _rate(met: int, n: int) -> str:
    return f"{met}/{n} ({met / n:.0%})" if n else "-"


def write_report(result: PromptResult, out: str | Path, command: str) -> Path:
    rows = result.checked
    lines = ["# People's prompts: does the take do what a person asked?", "",
             "Free-text prompts written by hand in the styles people use (`backend/eval/people.jsonl`), each "
             "with the coarse expectations a reader holds: which hand signs and that the other stays down, the "
             "handshape class, the named site, and the movement (up, down, forward, sideways, circling, "
             "repeating, hands together or apart). `backend/eval/prompts.py` checks them with plain geometry on "
             "the posed take, apart from the planner's own measures. *Chance* checks the same takes against "
             "another prompt's expectations.", "",
             "*dev* was looked at while improving generation. *held-out* was read once when written, and its "
             "misses then showed words the grammar lacked, so it is not blind. *fresh* was written before the "
             "scene parser was last trained and first run after it shipped; nothing was changed for it. *probe* "
             "was written in twenty-seven rounds, each run once before any change, whose misses were then fixed in the "
             "planner's plain-word rules.", "",
             "| split | expectations met | chance (shuffled prompts) |", "|---|---:|---:|"]
    for split in P.SPLITS:
        mine = [c for c in rows if c.prompt.split == split]
        if mine:
            lines.append(f"| {split} | {_rate(*P.score(mine))} | {_rate(*result.chance[split])} |")
    lines.append(f"| all | {_rate(*P.score(rows))} | "
                 f"{_rate(*(sum(v[i] for v in result.chance.values()) for i in (0, 1)))} |")
    lines += ["", "| expectation | met |", "|---|---:|"]
    met, total = Counter(), Counter()
    for c in rows:
        for k, v in c.passed.items():
            total[k] += 1
            met[k] += v
    lines += [f"| {k} | {_rate(met[k], total[k])} |" for k in total]
    fast, steps = result.fast
    lines += ["", f"Kinematics over the {len(rows)} takes: median peak wrist speed "
              f"{np.median(result.peaks):.2f} m/s (bar: at most 3.5), {fast / max(steps, 1):.2%} of frame steps "
              f"over {F.FAST:g} m/s (bar: at most 1%).", "",
              "## Misses", "", "| prompt | seed | expectation | measured |", "|---|---:|---|---|"]
    for i, c in enumerate(rows):
        for k, ok in c.passed.items():
            if not ok:
                lines.append(f"| {c.prompt.text} | {i % result.seeds} | {k} | {c.seen.get(k, '')} |")
    lines += ["", f"{len(rows) // result.seeds} prompts x {result.seeds} seeds, generated at refine "
              f"{result.refine:g} in {result.seconds:.0f} s.", "", "Command:", "", f"    {command}", ""]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def shown_command(seeds: int, run, steps: int, guidance: float, refine: float | None, out) -> str:
    words = ["signforge", "eval", "prompts", "--seeds", str(seeds)]
    words += ["--run", _shown_path(str(run), "RUN")] if run is not None else []
    words += (["--steps", str(steps)] if steps != 50 else []) + (["--guidance", f"{guidance:g}"] if guidance != 2.5 else [])
    words += (["--refine", f"{refine:g}"] if refine is not None else []) + ["--out", _shown_path(str(out), "OUT")]
    return shlex.join(words)
