"""Sentence transitions (issue 20): how the generated moves between signs compare, in one run.

For ``--sentences`` sentences of three items each (people's prompts and dictionary entries,
drawn with ``--seed``), the same signs are joined by each method of ``backend.sentence``:
``linear`` (straight from pose to pose: the baseline), ``blend`` (minimum jerk), ``raw``
(HandMDM's inpainting as MDM does it, every sign frame replaced, from noise and from the blend
noised halfway) and ``inpaint`` (the model-made transition: the same inpainting with the sign
frames next to each join left free, and the model's movement over the transition added to the
blend, as much of it as the bars allow: the default, from noise). Per method, over all
transitions: peak wrist speed (median and worst), the share of frame steps over 4 m/s, the
wrist's 95th-percentile jerk (median), the share of transitions whose joins meet the
continuity bar (speed jump no bigger than within the signs on either side), whose peak is at
most 3.5 m/s, and with no hand point over 1.5 cm inside the head or torso, the frames back at
rest between signs, the model's share of the movement (the share of its movement kept, mean)
and how far it moved a wrist from where the blend has it (the farthest in each transition,
median over transitions, cm; and over the longest path a wrist travels in the blend there). Beside them, the data's own movements into a sign: the data has no
sentences (ASL-LEX entries are isolated signs, each from and back to rest), so the nearest
thing is each synthesized sign's approach from rest to the start of its sign proper.

Run: python -m benchmarks.sentence [--sentences 6] [--seed 0] [--steps 50]
Writes benchmarks/results/sentence.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
METHODS = (("linear", 1.0), ("blend", 1.0), ("raw", 1.0), ("raw", 0.5), ("inpaint", 1.0), ("inpaint", 0.5))


def _items(n: int, seed: int, lex) -> list[list[str]]:
    people = [json.loads(line)["text"] for line in
              (Path(__file__).parents[1] / "backend" / "eval" / "people.jsonl").read_text().splitlines() if line.strip()]
    from backend.data.synth.phonology import signable

    entries = [e.entry_id for e in lex.entries if signable(e.phonology)]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = rng.choice(len(people), 2, replace=False)
        # "entry:" so that ids without a number (tiger, two_of_us) are entries too, not texts
        out.append([people[p[0]], f"entry: {entries[rng.integers(len(entries))]}", people[p[1]]])
    return out


def _approaches(lex, body, count: int, seed: int) -> dict:
    """The data's movements into a sign: from the first frame the wrist moves to the start of the
    sign proper (``eval.fidelity.sign_window``), for ``count`` synthesized dictionary signs."""
    from backend.data.synth import Signer
    from backend.data.synth.phonology import signable
    from backend.eval import fidelity as F
    from backend.sentence import _synthesizer

    rng = np.random.default_rng(seed + 1)
    entries = [e for e in lex.entries if signable(e.phonology)]
    pick = [entries[i] for i in rng.choice(len(entries), count, replace=False)]
    peaks, jerks = [], []
    made = _synthesizer(body).synthesize_many([(e, Signer.sample(k)) for k, e in enumerate(pick)])
    for motion, _truth in made:
        side = max(F.SIDES, key=lambda s: F.idle_distance(motion, body, s))
        start = F.sign_window(motion, body, side)[0]
        moving = np.flatnonzero(F.frame_speed(motion, body, side) > 0.05)
        a = int(moving[0]) if len(moving) else 0
        if start - a < 4:
            continue
        seg = motion.cut(a, start + 1)
        peaks.append(F.peak_speed(seg, body))
        jerks.append(F.jerk(seg, body, side))
    return {"movements": len(peaks), "peak_speed_median": float(np.median(peaks)),
            "peak_speed_max": float(np.max(peaks)), "jerk_median": float(np.median(jerks))}


def _moved(motion, blend, body) -> list[tuple[float, float]]:
    """Per transition: the farthest (m) a wrist of ``motion`` is from where the blend has it, over
    the transition's frames (what the model changed that a viewer sees), and the longest path (m)
    a wrist travels in the blend there; transitions placed differently from the blend's (a widened
    join) are left out."""
    from backend.eval import fidelity as F
    from backend.sentence import spans

    out = []
    for t, u in zip(spans(motion), spans(blend)):
        if t["kind"] != "transition" or (t["start"], t["end"]) != (u["start"], u["end"]):
            continue
        a, b = t["start"], t["end"]
        off = max(float(np.linalg.norm(F.wrist_path(motion, body, s)[a:b] - F.wrist_path(blend, body, s)[a:b],
                                       axis=1).max()) for s in F.SIDES)
        path = max(float(np.linalg.norm(np.diff(F.wrist_path(blend, body, s)[a - 1:b + 1], axis=0), axis=1).sum())
                   for s in F.SIDES)
        out.append((off, path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    from backend.body.model import Body
    from backend.data.lexicon import read_lexicon
    from backend.eval import fidelity as F
    from backend.sentence import item, join, joins, make_sign

    body, lex = Body.load(), read_lexicon(None)
    rows = {f"{m}@{s:g}" if m in ("raw", "inpaint") else m: [] for m, s in METHODS}
    rest, shares, sign_jerk, seconds = {k: 0 for k in rows}, {k: [] for k in rows}, [], {k: 0.0 for k in rows}
    moved = {k: [] for k in rows}
    sentences = _items(args.sentences, args.seed, lex)
    for n, items in enumerate(sentences):
        signs = [make_sign(item(v), seed=args.seed + n + k, hand=None, body=body, lexicon=lex)
                 for k, v in enumerate(items)]
        blend = None
        for method, strength in METHODS:
            key = f"{method}@{strength:g}" if method in ("raw", "inpaint") else method
            t0 = time.perf_counter()
            motion = join(signs, [None] * len(signs), seed=args.seed + n, method=method, strength=strength,
                          steps=args.steps, body=body)
            seconds[key] += time.perf_counter() - t0
            j = joins(motion, body)
            rows[key] += j["transitions"]
            rest[key] += j["rest_frames"]
            sp = json.loads(motion.provenance["sentence"])
            shares[key] += [s.get("model_share", 0.0) for s in sp if s["kind"] == "transition"]
            if method == "blend":
                blend = motion
            elif blend is not None:
                moved[key] += _moved(motion, blend, body)
            if method == "linear":
                for s in sp:
                    if s["kind"] == "sign":
                        seg = motion.cut(s["start"], s["end"])
                        sign_jerk.append(max(F.jerk(seg, body, side) for side in F.SIDES))
        print(f"sentence {n + 1}/{len(sentences)}: {' / '.join(items)}", flush=True)
    out = {"machine": platform.platform(), "sentences": sentences, "steps": args.steps,
           "signs_jerk_median": float(np.median(sign_jerk)), "methods": {}}
    print(f"\n{'method':<12}{'peak m/s med':>13}{'peak max':>9}{'>4m/s':>7}{'jerk med':>9}{'joins ok':>9}{'<=3.5':>7}"
          f"{'body ok':>8}{'rest fr':>8}{'model':>7}{'off cm':>7}{'/path':>6}{'s/sent':>7}")
    for key, ts in rows.items():
        peak = np.array([t["peak_speed"] for t in ts])
        r = {"transitions": len(ts), "peak_speed_median": float(np.median(peak)), "peak_speed_max": float(peak.max()),
             "jerk_median": float(np.median([t["jerk"] for t in ts])),
             "continuity_ok": float(np.mean([t["join_speed_jump"] <= t["sign_speed_jump"] for t in ts])),
             "join_speed_jump_median": float(np.median([t["join_speed_jump"] for t in ts])),
             "peak_ok": float(np.mean(peak <= 3.5)), "body_ok": float(np.mean([t["depth"] <= 0.015 for t in ts])),
             "rest_frames": rest[key], "model_share_mean": float(np.mean(shares[key])),
             "wrist_off_blend_cm_median": float(np.median([m[0] for m in moved[key]])) * 100 if moved[key] else None,
             "wrist_off_blend_cm_max": float(np.max([m[0] for m in moved[key]])) * 100 if moved[key] else None,
             "wrist_off_blend_per_path_median": float(np.median([m[0] / max(m[1], 1e-6) for m in moved[key]]))
             if moved[key] else None,
             "fast_steps": int(sum(t["fast_steps"] for t in ts)), "steps": int(sum(t["steps"] for t in ts)),
             "seconds_per_sentence": seconds[key] / len(sentences)}
        out["methods"][key] = r
        off = r["wrist_off_blend_cm_median"]
        print(f"{key:<12}{r['peak_speed_median']:>13.2f}{r['peak_speed_max']:>9.2f}{r['fast_steps'] / r['steps']:>7.1%}"
              f"{r['jerk_median']:>9.0f}{r['continuity_ok']:>9.0%}{r['peak_ok']:>7.0%}{r['body_ok']:>8.0%}"
              f"{r['rest_frames']:>8d}{r['model_share_mean']:>7.2f}{'-' if off is None else f'{off:.1f}':>7}"
              f"{'-' if off is None else format(r['wrist_off_blend_per_path_median'], '.0%'):>6}"
              f"{r['seconds_per_sentence']:>7.1f}")
    out["data_approaches"] = _approaches(lex, body, 24, args.seed)
    d = out["data_approaches"]
    print(f"{'data: into a sign':<12}{d['peak_speed_median']:>13.2f}{d['peak_speed_max']:>9.2f}{'':>7}"
          f"{d['jerk_median']:>9.0f}"
          f"   ({d['movements']} approaches from rest; the data has no sign-to-sign movements)")
    print(f"the signs themselves: jerk median {out['signs_jerk_median']:.0f} m/s^3")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sentence.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
