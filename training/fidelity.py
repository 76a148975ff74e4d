"""``signforge eval fidelity``: does a HandMDM run's motion do what its text says?

Each test text (``test_seen``, ``test_unseen`` and any paraphrase set the dataset holds) is
generated ``seeds`` times and measured against the ground-truth motion the text was
written from, with the body's own sites and HandMotionScript's strokes
(``backend.eval.fidelity``), never a learned judge: which hands sign and whether the idle
one stays at rest, the place and contact of the signing hand, its path, main direction
and strokes, its handshape, and its kinematics against the dataset's.

The ceiling of each row is the same comparison between the ground truth and a second
ground truth of the same dictionary entry and text, synthesized by the data factory for
another signer (another signer seed, the same hand) once per seed. Every rate has a
bootstrap 95% interval over the texts (resampled with all their seeds), and the spread
of the per-seed values. torch (through generation); never bpy.
"""
from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from backend.atomic import atomic_path
from backend.eval import fidelity as F

BASE_SPLITS = ("test_seen", "test_unseen")
BOOTSTRAP = 1000


def prompt_sets(ds, condition: str) -> list[tuple[str, str, str]]:
    """(set name, split, text key) for every prompt set the dataset holds: the test splits
    with the run's condition texts, any split whose name holds "paraphrase" (its records'
    condition texts), and any text key holding "paraphrase" on the test splits' records."""
    splits = {r["split"] for r in ds.records}
    out = [(s, s, condition) for s in BASE_SPLITS if s in splits]
    out += [(s, s, condition) for s in sorted(splits) if "paraphrase" in s]
    keys = sorted({k for r in ds.records if r["split"] in BASE_SPLITS for k in r.get("texts", {})
                   if "paraphrase" in k})
    out += [(f"{s} ({k})", s, k) for k in keys for s in BASE_SPLITS if s in splits]
    return out


def describes_its_motion(record: dict) -> bool:
    """Whether a record's texts were written from the variant it signs. The factory writes a
    word's texts from the variant its assigner picks (``assigned``), which for a random
    assignment is often another variant of the word than the one signed (``entry``): such a
    text describes another motion, so no model can be scored on it against this one."""
    return record.get("assigned", record.get("entry")) == record.get("entry")


def prompt_of(record: dict, key: str) -> str:
    """A record's prompt under ``key``: the text, or the first of several ("" if none)."""
    text = record.get("texts", {}).get(key) or ""
    return (text[0] if text else "") if isinstance(text, list) else text


@dataclass
class Sample:
    """One test text: its ground truth, its generated motions and its second ground truths (one per seed)."""
    record: dict
    prompt: str
    truth: F.Fidelity
    generated: list[F.Fidelity] = field(default_factory=list)
    ceiling: list[F.Fidelity] = field(default_factory=list)
    cut: bool = False               # the ground truth is longer than the model generates
    kind: str = ""                  # the sign's kind (``sign_kind``); "" without a lexicon entry


SIGN_KINDS = ("plain", "finger change", "compound")
BY_KIND_ROWS = ("hands: which hands sign", "place: region", "contact: where, recall", "movement: path type",
                "movement: strokes", "handshape: top-1")


def sign_kind(entry) -> str:
    """"compound" for a sign of several morphemes (its texts describe each part in turn),
    "finger change" for one whose coding changes the fingers, else "plain"."""
    from backend.data.synth import signed_morphemes

    if len(signed_morphemes(entry)) > 1:
        return "compound"
    return "finger change" if entry.phonology.flexion_change == "1" else "plain"


# ------------------------------------------------------------------------ rows

def _rate(num: float, den: float) -> tuple[float, float]:
    return float(num), float(den)


def compare(ref: F.Fidelity, other: F.Fidelity) -> dict[str, tuple[float, float]]:
    """Per row, (numerator, denominator) of ``other`` judged against ``ref``; a row's value over
    many pairs is sum(numerators) / sum(denominators). Denominator 0: the pair does not count."""
    one_handed = ref.hands == "dominant"
    inter = len(ref.contacts & other.contacts)
    return {
        "hands: which hands sign": _rate(other.hands == ref.hands, 1),
        "hands: idle hand within 5 cm of rest (one-handed texts)": _rate(one_handed and other.idle < F.IDLE,
                                                                         one_handed),
        "place: region": _rate(other.place == ref.place, 1),
        "place: distance error, cm (lower is better)": _rate(100 * np.linalg.norm(other.point - ref.point), 1),
        "contact: touches, precision": _rate(bool(other.contacts) and bool(ref.contacts), bool(other.contacts)),
        "contact: touches, recall": _rate(bool(other.contacts) and bool(ref.contacts), bool(ref.contacts)),
        "contact: where, precision": _rate(inter, len(other.contacts)),
        "contact: where, recall": _rate(inter, len(ref.contacts)),
        "movement: path type": _rate(other.movement.path == ref.movement.path, 1),
        "movement: main direction": _rate(other.movement.direction == ref.movement.direction, 1),
        "movement: strokes": _rate(other.movement.strokes == ref.movement.strokes, 1),
        "handshape: top-1": _rate(other.handshape == ref.handshape, 1),
        "handshape: everyday class (fist, flat, index, spread...), top-1":
            _rate(shape_class(other.handshape) == shape_class(ref.handshape), 1),
    }


def shape_class(shape: str) -> str:
    """The everyday name a handshape goes by (``vocab.HANDSHAPE_CONCEPT``: flat_b, open_b and
    closed_b are all a flat hand), or the shape itself where people have none."""
    from backend.data.vocab import HANDSHAPE_CONCEPT

    return HANDSHAPE_CONCEPT.get(shape, shape)


LOWER_IS_BETTER = {"place: distance error, cm (lower is better)"}


@dataclass(frozen=True)
class Estimate:
    """A row's value with its bootstrap 95% interval and the range of its per-seed values."""
    value: float
    low: float
    high: float
    seed_min: float = math.nan
    seed_max: float = math.nan
    count: int = 0                  # pairs that counted (denominator > 0)


def _grid(rows: list[list[float]]) -> np.ndarray:
    """(texts, seeds) values as an array; (0, 1) when there are no texts."""
    return np.array(rows, float).reshape(len(rows), -1) if rows else np.zeros((0, 1))


def _ratio_estimate(num: np.ndarray, den: np.ndarray, rng: np.random.Generator) -> Estimate:
    """sum(num) / sum(den) over (texts, seeds), with a bootstrap 95% interval over the texts."""
    n = len(num)
    if n == 0 or den.sum() == 0:
        return Estimate(math.nan, math.nan, math.nan, count=0)
    idx = rng.integers(n, size=(BOOTSTRAP, n))
    nb, db = num[idx].sum((1, 2)), den[idx].sum((1, 2))
    boot = nb[db > 0] / db[db > 0]
    per_seed = [num[:, k].sum() / den[:, k].sum() for k in range(num.shape[1]) if den[:, k].sum() > 0]
    return Estimate(float(num.sum() / den.sum()), *np.percentile(boot, [2.5, 97.5]).tolist(),
                    min(per_seed), max(per_seed), int((den > 0).sum()))


def _quantile_estimate(values: np.ndarray, q: float, rng: np.random.Generator) -> Estimate:
    """The ``q`` quantile of (texts, seeds) values, with a bootstrap 95% interval over the texts."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan)
    idx = rng.integers(n, size=(BOOTSTRAP, n))
    boot = np.quantile(values[idx].reshape(BOOTSTRAP, -1), q, axis=1)
    per_seed = [float(np.quantile(values[:, k], q)) for k in range(values.shape[1])]
    return Estimate(float(np.quantile(values, q)), *np.percentile(boot, [2.5, 97.5]).tolist(),
                    min(per_seed), max(per_seed), values.size)


def agreement_rows(samples: list[Sample], seed: int = 0) -> list[dict]:
    """One row per measure: generated against the ground truth, and the ceiling (second
    ground truth against the ground truth), with their ratio."""
    pairs = {"generated": [[compare(s.truth, g) for g in s.generated] for s in samples],
             "ceiling": [[compare(s.truth, c) for c in s.ceiling] for s in samples if s.ceiling]}
    rows = []
    for name in compare(samples[0].truth, samples[0].truth):
        row = {"row": name}
        for who, grid in pairs.items():
            num = _grid([[p[name][0] for p in seeds] for seeds in grid])
            den = _grid([[p[name][1] for p in seeds] for seeds in grid])
            row[who] = _ratio_estimate(num, den, np.random.default_rng(seed))
        g, c = row["generated"].value, row["ceiling"].value
        row["ratio"] = g / c if c and not math.isnan(c) and not math.isnan(g) else math.nan
        rows.append(row)
    return rows


KINEMATICS = (   # label, Fidelity -> value, unit scale, quantiles shown
    ("peak wrist speed, m/s", lambda f: f.peak_speed, 1.0),
    ("jerk (95th percentile of frames), m/s^3", lambda f: f.jerk, 1.0),
    ("longest hold in the sign, s", lambda f: f.hold, 1.0),
    ("largest frame-to-frame joint jump, cm", lambda f: f.jump, 100.0),
)


def kinematic_rows(samples: list[Sample], seed: int = 0) -> list[dict]:
    """Distributions (median, 90th percentile) of per-motion kinematics for the generated
    motions, the dataset's ground truth and the second ground truth, and the share of frame
    steps where a wrist moves faster than ``FAST``; and, over the texts whose ground truth is
    one-handed, how far the idle wrist strays from its rest."""
    groups = {"generated": [s.generated for s in samples], "dataset": [[s.truth] for s in samples],
              "second truth": [s.ceiling for s in samples if s.ceiling]}
    rows = []
    for label, get, scale in KINEMATICS:
        row = {"row": label}
        for who, grid in groups.items():
            values = _grid([[scale * get(f) for f in fs] for fs in grid])
            rng = np.random.default_rng(seed)
            row[who] = (_quantile_estimate(values, 0.5, rng), _quantile_estimate(values, 0.9, rng))
        rows.append(row)
    one = [s for s in samples if s.truth.hands == "dominant"]
    row = {"row": "idle wrist's farthest distance from rest (one-handed texts), cm"}
    for who, grid in {"generated": [s.generated for s in one], "dataset": [[s.truth] for s in one],
                      "second truth": [s.ceiling for s in one if s.ceiling]}.items():
        values = _grid([[100 * f.idle for f in fs] for fs in grid])
        rng = np.random.default_rng(seed)
        row[who] = (_quantile_estimate(values, 0.5, rng), _quantile_estimate(values, 0.9, rng))
    rows.append(row)
    row = {"row": f"share of frame steps with a wrist over {F.FAST:g} m/s"}
    for who, grid in groups.items():
        num = _grid([[f.fast[0] for f in fs] for fs in grid])
        den = _grid([[f.fast[1] for f in fs] for fs in grid])
        row[who] = (_ratio_estimate(num, den, np.random.default_rng(seed)), None)
    rows.append(row)
    return rows


# ------------------------------------------------------------------------ the evaluation

@dataclass
class Result:
    sets: dict[str, list[Sample]]
    run: str
    condition: str
    seeds: int
    steps: int
    guidance: float
    max_frames: int
    dataset: dict                   # the dataset's manifest
    refine: float = 1.0             # generate's refine: 1 samples without a plan


def _second_signers(record: dict, seeds: int) -> list[int]:
    """Signer seeds for the ceiling's second ground truths: drawn from the record's own, never equal to it."""
    from backend.data.dataset import keyed_rng

    out, k = [], 0
    while len(out) < seeds:
        s = int(keyed_rng("fidelity-ceiling", record["signer_seed"], k).integers(2 ** 31))
        if s != record["signer_seed"]:
            out.append(s)
        k += 1
    return out


def evaluate_fidelity(data: str | Path, run: str | Path | None = None, seeds: int = 3, limit: int | None = None,
                      steps: int = 50, guidance: float = 2.5, seed: int = 0,
                      progress: Callable[[str, int, int], None] | None = None,
                      refine: float | None = None, device: str = "cpu") -> Result:
    """Generate every prompt set's texts ``seeds`` times with the run (default: the shipped
    HandMDM) and measure them, the ground truth and the ceiling's second ground truths."""
    from backend.body.model import Body
    from backend.data.dataset import Dataset
    from backend.data.lexicon import read_lexicon, resolve_lexicon_path
    from backend.data.synth import Signer, Synthesizer
    from backend.generate import DEFAULT_RUNS, generate
    from backend.runs import load_run

    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1; got {seeds}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1; got {limit}")
    ds = Dataset.open(data)
    run_dir = Path(run) if run is not None else DEFAULT_RUNS["handmdm"]
    loaded = load_run(run_dir, kinds=("handmdm",))
    condition = loaded.config["run"].get("condition", "phonology+hms")
    max_frames = loaded.model.cfg.longest   # in 25 fps frames
    sets = prompt_sets(ds, condition)
    if not sets:
        raise ValueError(f"{data} has no test_seen, test_unseen or paraphrase split to evaluate")
    body = Body.load()
    lex_path = ds.manifest.get("lexicon", {}).get("path")
    lexicon = read_lexicon(lex_path if lex_path and Path(lex_path).exists() else resolve_lexicon_path(None))
    entries = lexicon.by_id()
    synth = Synthesizer(body)
    out: dict[str, list[Sample]] = {}
    truths: dict[str, tuple[F.Fidelity, list[F.Fidelity]]] = {}   # per record: its paraphrases share them
    for name, split, key in sets:
        records = [r for r in ds.split(split) if prompt_of(r, key) and describes_its_motion(r)][:limit]
        samples = []
        for i, r in enumerate(records):
            if progress:
                progress(name, i, len(records))
            dominant = r.get("dominant", "right")
            if r["id"] not in truths:
                ceiling = []
                if r.get("entry") in entries:     # reconstructed datasets have no entry: no ceiling
                    signers = [Signer.sample(s, left_handed=dominant == "left") for s in _second_signers(r, seeds)]
                    ceiling = [F.describe(motion, body, dominant) for motion, _ in
                               synth.synthesize_many([(entries[r["entry"]], g) for g in signers])]
                truths[r["id"]] = F.describe(ds.motion(r), body, dominant), ceiling
            truth, ceiling = truths[r["id"]]
            sample = Sample(r, prompt_of(r, key), truth, ceiling=ceiling, cut=r["frames"] > max_frames,
                            kind=sign_kind(entries[r["entry"]]) if r.get("entry") in entries else "")
            frames = min(r["frames"], max_frames)
            for k in range(seeds):
                motion = generate(sample.prompt, frames=frames, guidance=guidance, steps=steps,
                                  seed=seed + k * len(records) + i, run_dir=run_dir, refine=refine,
                                  device=device)[0]
                sample.generated.append(F.describe(motion, body, dominant))
            samples.append(sample)
        if progress:
            progress(name, len(records), len(records))
        if samples:
            out[name] = samples
    if not out:
        raise ValueError(f"{data}: the test splits hold no texts for the run's condition {condition!r}")
    from backend.generate import REFINE

    return Result(out, str(run_dir), condition, seeds, steps, guidance, max_frames, ds.manifest,
                  REFINE if refine is None else refine)


# ------------------------------------------------------------------------ the report

def _fmt(e: Estimate | None, digits: int = 2, interval: bool = True) -> str:
    if e is None or math.isnan(e.value):
        return "n/a"
    text = f"{e.value:.{digits}f}"
    return f"{text} [{e.low:.{digits}f}, {e.high:.{digits}f}]" if interval else text


def _seed_range(e: Estimate, digits: int = 2) -> str:
    return "n/a" if math.isnan(e.seed_min) else f"{e.seed_min:.{digits}f} .. {e.seed_max:.{digits}f}"


NOTES = """\
How each row is measured (`backend/eval/fidelity.py`); every measure is taken the same way on the
generated motion, the ground truth and the second ground truth, in the body's own frame:

- **sign window**: the frames between the approach from rest (to its first pause, and a settle of
  under 8 cm within 7 frames after it) and the return to rest. Place, contact, movement, handshape
  and hold are measured on the signing hand in this window; the signing hand is the one the text
  asked for (the record's dominant hand), so a motion signed with the other hand fails those rows.
  Motions come from `backend.generate.generate` as a user gets them, so its hand rule applies (a
  take led by the other hand than the prompt names is mirrored).
- **hands**: a hand signs when its wrist is over 8 cm from where it hangs at rest (same torso) in at
  least a quarter of the frames: dominant, non-dominant, both or none must equal the ground truth's.
  The idle-hand row counts texts whose ground truth is one-handed: the other wrist never strays
  5 cm from rest.
- **place**: the nearest region to the hand's palm, back and fingertips, most often over the window
  (forehead, eyes/nose, mouth/chin, cheek/ear, neck, chest, stomach; farther than 12 cm from all:
  neutral space). The distance error is between the hand's median centre in the two motions,
  relative to the neck joint.
- **contact**: the regions (the places, the other arm, the other hand and its fingers' middle
  knuckles) a hand point (palm, back, fingertips or the fingers' middle knuckles, which a fist
  knocks with) comes within 2 cm of. Touches: whether there is any contact; where: per region.
- **movement**: HandMotionScript's strokes of the palm (split at pauses, 2 cm or longer, named by
  direction or circle). Path: none (no stroke), circle (a stroke circles), straight (the path's
  second principal extent is under 0.2 of its first) or arc. Main direction: the most frequent
  stroke. Strokes: how often it repeats.
- **handshape**: the nearest of the table's handshapes to the fingers over the window (mean
  geodesic angle). The everyday class row counts shapes a text names alike as one (a flat hand is
  flat_b, open_b or closed_b; an index finger 1 or flat_1; a fist s; a claw curved_5 or curved_4);
  shapes with no everyday name stay their own class.
- **ceiling**: a second ground truth per seed, the same entry signed by the data factory for
  another signer (another body, tempo, size and tremor; the same dominant hand), measured against
  the ground truth. Generated / ceiling is the share of the ceiling the model reaches (for the
  distance error, above 1 is worse).
- **intervals**: bootstrap 95% over the texts (1000 resamples, each text with all its seeds);
  "seeds" is the range of the per-seed values.
- **by kind of sign**: the texts split by their entry's coding. A compound (several morphemes:
  "index at the brow, then both claws move down") is described part by part ("... Then ..."),
  and the planner signs the parts in turn; its rows are measured over the whole sign; a finger change
  (the coding's FlexionChange) is measured as the shape the fingers pass through over the sign.
- **kinematics**: per motion, the fastest wrist step, the 95th percentile of the wrist's jerk
  (third differences), the longest stretch of the window with the wrist under 0.15 m/s, and the
  largest step of any joint between frames; shown as median and 90th percentile over motions. Over
  the texts whose ground truth is one-handed, also the idle wrist's farthest distance from rest."""


def _refined(refine: float) -> str:
    if refine >= 1:
        return "sampled from noise (no plan, refine 1)"
    if refine == 0:
        return "the planned take as is (refine 0: no model pass)"
    return f"sampled from the planned take noised {refine:g} of the way up the schedule (refine {refine:g})"


def write_report(result: Result, path: str | Path, command: str, seed: int = 0) -> Path:
    cfg = result.dataset.get("config", {})
    lines = ["# HandMDM fidelity: does the motion do what the text says?", "",
             f"Made by: `{command}`", ""]
    build = f"`{_build_command(cfg)}`" if cfg else "a dataset folder"
    lines += [f"DATA: {build} ({result.dataset.get('samples')} samples). Run: `{_shown_path(result.run, 'RUN')}`, "
              f"prompted with its `{result.condition}` texts (the first of each record), {result.seeds} "
              f"samples per text (seeds), DDIM {result.steps} steps, guidance {result.guidance:g}, "
              f"{_refined(result.refine)}; motions as long as their ground truth, up to the model's "
              f"{result.max_frames} frames.", ""]
    lines += ["Agreement with the ground truth of the same text; ceiling: a second ground truth of the same "
              "entry from another signer. Records whose texts were written from another variant of the word "
              "than the one they sign (the factory's variant assignment) are left out: their text describes "
              "another motion. Definitions below the tables.", ""]
    shown: dict[str, list[dict]] = {}
    for name, samples in result.sets.items():
        cut = sum(s.cut for s in samples)
        lines += [f"## {name}", "",
                  f"{len(samples)} texts x {result.seeds} seeds; {sum(bool(s.ceiling) for s in samples)} texts "
                  f"with a ceiling" + (f"; {cut} ground truths are longer than the model's {result.max_frames} "
                                       f"frames (generated at {result.max_frames})" if cut else "") + ".", "",
                  "| row | generated [95% CI] | seeds | ceiling [95% CI] | generated / ceiling |",
                  "|---|---|---|---|---|"]
        shown[name] = agreement_rows(samples, seed)
        for row in shown[name]:
            g, c = row["generated"], row["ceiling"]
            digits = 1 if row["row"] in LOWER_IS_BETTER else 2
            ratio = "n/a" if math.isnan(row["ratio"]) else f"{row['ratio']:.2f}"
            lines.append(f"| {row['row']} | {_fmt(g, digits)} | {_seed_range(g, digits)} | {_fmt(c, digits)} "
                         f"| {ratio} |")
        lines += _by_kind_table(samples, seed)
        lines += ["", "| kinematics | generated median [95% CI] | generated p90 | dataset median [95% CI] "
                      "| dataset p90 | second truth median | generated / dataset (median) |",
                  "|---|---|---|---|---|---|---|"]
        for row in kinematic_rows(samples, seed):
            (gm, gp), (dm, dp), (sm, _) = row["generated"], row["dataset"], row["second truth"]
            digits = 3 if row["row"].startswith("share") else (0 if "jerk" in row["row"] else 2)
            ratio = gm.value / dm.value if round(dm.value, digits) else math.nan   # not against a zero
            lines.append(f"| {row['row']} | {_fmt(gm, digits)} | {_fmt(gp, digits, False)} | {_fmt(dm, digits)} "
                         f"| {_fmt(dp, digits, False)} | {_fmt(sm, digits, False)} | "
                         f"{'n/a' if math.isnan(ratio) else f'{ratio:.2f}'} |")
        lines.append("")
    lines += _gap_table(shown)
    lines += ["## Definitions", "", NOTES, ""]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def _gap_table(shown: dict[str, list[dict]]) -> list[str]:
    """Each paraphrase set's generated rows against its own split's ("test_unseen" against
    "test_unseen (paraphrase)"), in points: how much fidelity the held-out words and style cost."""
    pairs = [(base, name) for name in shown for base in shown if name.startswith(f"{base} (")]
    if not pairs:
        return []
    lines = ["## Paraphrase gap", "",
             "Generated agreement on each split's own texts minus on its paraphrases (held-out style and "
             "synonyms), in points; positive: the paraphrases do worse.", "",
             "| row | " + " | ".join(f"{base}: own / paraphrase / gap" for base, _ in pairs) + " |",
             "|---|" + "---|" * len(pairs)]
    for k, row in enumerate(shown[pairs[0][0]]):
        if row["row"] in LOWER_IS_BETTER:
            continue
        cells = []
        for base, name in pairs:
            own, para = shown[base][k]["generated"].value, shown[name][k]["generated"].value
            cells.append(f"{own:.3f} / {para:.3f} / {100 * (own - para):+.1f}")
        lines.append(f"| {row['row']} | " + " | ".join(cells) + " |")
    return lines + [""]


def _by_kind_table(samples: list[Sample], seed: int) -> list[str]:
    """The main rows again for each kind of sign: generated, ceiling and their ratio."""
    kinds = [k for k in SIGN_KINDS if any(s.kind == k for s in samples)]
    if len(kinds) < 2:
        return []
    groups = {k: [s for s in samples if s.kind == k] for k in kinds}
    rows = {k: {r["row"]: r for r in agreement_rows(g, seed)} for k, g in groups.items()}
    lines = ["", "By kind of sign (generated / ceiling = ratio):", "",
             "| row | " + " | ".join(f"{k} ({len(groups[k])} texts)" for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for name in BY_KIND_ROWS:
        cells = []
        for k in kinds:
            r = rows[k][name]
            g, c = r["generated"].value, r["ceiling"].value
            cells.append("n/a" if math.isnan(g) or math.isnan(c) else
                         f"{g:.2f} / {c:.2f} = {r['ratio']:.2f}" if not math.isnan(r["ratio"]) else f"{g:.2f} / {c:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


_BUILD_FLAGS = {"samples": "--samples", "seed": "--seed", "shard_size": "--shard-size", "texts_per_sample": "--texts",
                "assign": "--assign", "word_sets": "--word-sets", "word_set_samples": "--word-set-samples",
                "retrieval_run": "--retrieval-model"}


def _build_command(cfg: dict) -> str:
    """The ``signforge data build`` command of a dataset's manifest config: its seed and sample
    count, every flag that differs from the default, and settings no flag sets in brackets."""
    from dataclasses import fields

    from backend.data.dataset import BuildConfig

    defaults = {f.name: f.default for f in fields(BuildConfig) if f.name != "out"}
    words = ["signforge", "data", "build", "--out", "DATA"]
    extra = []
    for name, default in defaults.items():
        value = cfg.get(name, default)
        value = tuple(value) if isinstance(value, list) else value
        if name in ("lexicon", "workers") or (value == default and name not in ("samples", "seed")):
            continue
        if name not in _BUILD_FLAGS:
            extra.append(f"{name}={value}")
        elif name == "word_sets":
            words += [_BUILD_FLAGS[name], ",".join(str(v) for v in value)]
        elif name == "retrieval_run":
            words += [_BUILD_FLAGS[name], _shown_path(str(value), "RUN")]
        else:
            words += [_BUILD_FLAGS[name], str(value)]
    return shlex.join(words) + (f" ({', '.join(extra)})" if extra else "")


def _shown_path(path: str, placeholder: str) -> str:
    """A path as a report shows it: relative to the checkout when inside it, else ``placeholder``."""
    p = Path(path).resolve()
    root = Path(__file__).resolve().parent.parent
    try:
        return str(p.relative_to(root))
    except ValueError:
        return placeholder


def shown_command(data, run: str | None, seeds: int, limit: int | None, steps: int, guidance: float,
                  seed: int, out, refine: float | None = None) -> str:
    """The ``signforge eval fidelity`` command that makes this report, the dataset shown as DATA
    and a run folder or report outside the checkout as RUN or OUT, so that a report never
    records a machine's own paths."""
    words = ["signforge", "eval", "fidelity", "--data", "DATA"]
    if run is not None:
        words += ["--run", _shown_path(str(run), "RUN")]
    words += ["--seeds", str(seeds)] + (["--limit", str(limit)] if limit is not None else [])
    words += ["--steps", str(steps)] + (["--guidance", f"{guidance:g}"] if guidance != 2.5 else [])
    words += (["--seed", str(seed)] if seed else []) + (["--refine", f"{refine:g}"] if refine is not None else [])
    words += ["--out", _shown_path(str(out), "OUT")]
    return shlex.join(words)
