"""Classifier-free guidance's one batch against the two-pass reference, and the attention paths.

HandMDM sampled directly (``backend.diffusion.sample``, DDIM, guidance 2.5) with the shipped
weights, for 1, 4 and 16 variants of a 2 s clip and for one variant of 2, 8 and 16 s. The
shipped run takes at most 4 s; the 8 and 16 s cases load its weights into a copy that
accepts longer motions (positions are sinusoidal: nothing learned depends on the length), so
they time the sums a longer run would do, not a trained long-clip model. Four ways per case:

- ``batched``: guidance as ``generate`` runs it: ``HandMDM.guidance_pair`` (``GuidedPair``),
  both halves' tokens packed through one pass, the work they share done once per step and
  what depends on the prompt alone once per run;
- ``batched_torch``: the doubled batch (conditional rows, then dropped rows) through torch's
  encoder layers with the padding mask (the path before issue 21);
- ``two_pass``: the reference's two forwards per step (conditional, then unconditional), each
  ``HandMDM.forward`` as it is (``handmdm.encode``: unmasked SDPA, the dropped pass on its kept
  positions, the last layer on the frames alone), so the reference has every speed-up that is
  not about sharing work between the halves;
- ``two_pass_torch``: the same two forwards through torch's encoder layers.

Threads are chosen as ``signforge`` chooses them (``backend.threads``; ``SIGNFORGE_THREADS``
sets them). The machine is shared and its speed drifts, so the four run interleaved (the order rotating
each round) and each ratio is the median of per-round ratios. Bars (issue 21): two_pass over
batched at least 1.5 at 1 and 4 variants, and at least 2 at 16 s.

``--profile`` instead times and profiles one guided step, batched and two-pass, at 1 and 4
variants of 2 s and one of 8 and 16 s with torch's profiler: ops per step and the CPU time's
share in linear layers, attention and the rest (issue 21: where a guided step's time goes).

Run: python -m benchmarks.guidance [--repeats 5] [--steps 20] [--profile]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PROMPT = "the right hand, shaped as a fist with the thumb up, taps the chin twice"
GUIDANCE = 2.5
CASES = [(1, 2.0), (4, 2.0), (16, 2.0), (1, 8.0), (1, 16.0)]   # (variants, seconds)


def _model(seconds: float):
    import dataclasses
    from backend.models import HandMDM
    from backend.runs import SHIPPED, load_run
    net = load_run(SHIPPED["handmdm"], kinds=("handmdm",)).model.eval()
    frames = net.cfg.model_frames(int(round(seconds * 25)))
    if frames > net.cfg.max_frames:
        longer = HandMDM(dataclasses.replace(net.cfg, max_frames=frames))
        longer.load_state_dict(net.state_dict())
        net = longer.eval()
    return net, frames


def measure(repeats: int, steps: int) -> dict:
    import torch

    from backend.diffusion import CosineSchedule, sample
    from backend.text import load_text_encoder

    enc = load_text_encoder("minilm").encode([PROMPT])
    schedule = CosineSchedule.create(100)
    results = {"steps": steps, "guidance": GUIDANCE, "threads": torch.get_num_threads(), "cases": {}}
    for variants, seconds in CASES:
        net, frames = _model(seconds)
        cond = {"text": enc.tokens.expand(variants, -1, -1), "text_mask": enc.mask.expand(variants, -1)}

        def two_pass(x, t, c, net=net):
            x0_cond = net(x, t, c)
            x0_uncond = net(x, t, {**c, "drop": torch.ones(len(x), dtype=torch.bool)})
            return x0_uncond + GUIDANCE * (x0_cond - x0_uncond)

        def run(name, net=net, cond=cond, frames=frames):
            net.fast_attention = not name.endswith("_torch")
            fn, g = (net, GUIDANCE) if name.startswith("batched") else (two_pass, 1.0)
            try:
                return sample(fn, (variants, frames, net.cfg.features), schedule, cond, guidance=g, steps=steps,
                              generator=torch.Generator().manual_seed(0))
            finally:
                net.fast_attention = True

        names = ["batched", "batched_torch", "two_pass", "two_pass_torch"]
        times: dict[str, list[float]] = {n: [] for n in names}
        with torch.inference_mode():
            outs = {n: run(n) for n in names}   # also the warm-up
            diff = max(float((outs[n] - outs["batched"]).abs().max()) for n in names)
            for r in range(repeats):
                for n in names[r % 4:] + names[:r % 4]:
                    t0 = time.perf_counter()
                    run(n)
                    times[n].append(time.perf_counter() - t0)
        ratio = lambda a, b: round(statistics.median(x / y for x, y in zip(times[a], times[b])), 2)  # noqa: E731
        case = {"variants": variants, "seconds": seconds, "model_frames": frames,
                **{f"{n}_s": round(statistics.median(times[n]), 4) for n in names},
                "two_pass_over_batched": ratio("two_pass", "batched"),
                "two_pass_torch_over_batched": ratio("two_pass_torch", "batched"),
                "batched_torch_over_batched": ratio("batched_torch", "batched"),
                "max_abs_diff": diff}
        key = f"{variants}x{seconds:g}s"
        results["cases"][key] = case
        print(f"{key:>7}: batched {case['batched_s'] * 1000:7.1f} ms  batched_torch {case['batched_torch_s'] * 1000:7.1f}"
              f"  two_pass {case['two_pass_s'] * 1000:7.1f}  two_pass_torch {case['two_pass_torch_s'] * 1000:7.1f}"
              f" | two_pass/batched {case['two_pass_over_batched']:.2f}"
              f"  two_pass_torch/batched {case['two_pass_torch_over_batched']:.2f}"
              f"  batched_torch/batched {case['batched_torch_over_batched']:.2f}  (max diff {diff:.1e})", flush=True)
    return results


PROFILE_CASES = [(1, 2.0), (4, 2.0), (1, 8.0), (1, 16.0)]   # (variants, seconds)
GROUPS = {"linear": ("aten::addmm", "aten::mm", "aten::bmm"),
          "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",
                        "aten::_scaled_dot_product_attention_math", "aten::_masked_softmax", "aten::softmax")}


def profile_steps(repeats: int) -> dict:
    """One guided step, batched and as the reference's two passes, per case: its median time,
    the profiler's operator calls, and the CPU time's share in linear layers, attention and
    everything else (elementwise ops, copies, layer norms, dispatch)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from backend.diffusion.schedule import guided
    from backend.text import load_text_encoder

    enc = load_text_encoder("minilm").encode([PROMPT])
    out = {}
    for variants, seconds in PROFILE_CASES:
        net, frames = _model(seconds)
        cond = {"text": enc.tokens.expand(variants, -1, -1), "text_mask": enc.mask.expand(variants, -1)}
        x, t = torch.randn(variants, frames, net.cfg.features), torch.full((variants,), 50)
        drop = {**cond, "drop": torch.ones(variants, dtype=torch.bool)}

        def two_pass(x, t, c, net=net, drop=drop):
            x0_cond, x0_uncond = net(x, t, c), net(x, t, drop)
            return x0_uncond + GUIDANCE * (x0_cond - x0_uncond)

        ways = {"batched": guided(net, GUIDANCE), "two_pass": two_pass}
        case = {"model_frames": frames}
        with torch.inference_mode():
            times: dict[str, list[float]] = {w: [] for w in ways}
            for fn in ways.values():
                fn(x, t, cond)
            for _ in range(max(repeats, 5) * 4):
                for w, fn in ways.items():
                    t0 = time.perf_counter()
                    fn(x, t, cond)
                    times[w].append(time.perf_counter() - t0)
            for w, fn in ways.items():
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    for _ in range(5):
                        fn(x, t, cond)
                events = prof.key_averages()
                total = sum(e.self_cpu_time_total for e in events)
                share = {g: sum(e.self_cpu_time_total for e in events if e.key in keys) / total
                         for g, keys in GROUPS.items()}
                share["other"] = 1 - sum(share.values())
                case[w] = {"step_ms": round(statistics.median(times[w]) * 1000, 2),
                           "ops_per_step": sum(e.count for e in events) // 5,
                           "linear_calls_per_step": sum(e.count for e in events if e.key in GROUPS["linear"]) // 5,
                           "shares": {g: round(v, 3) for g, v in share.items()}}
        case["two_pass_over_batched"] = round(statistics.median(a / b for a, b in zip(times["two_pass"], times["batched"])), 2)
        key = f"{variants}x{seconds:g}s"
        out[key] = case
        print(f"{key:>7} ({frames} model frames): two_pass/batched {case['two_pass_over_batched']:.2f}; "
              + "; ".join(f"{w} {case[w]['step_ms']:.1f} ms/step, {case[w]['ops_per_step']} ops, "
                          + ", ".join(f"{g} {v:.0%}" for g, v in case[w]["shares"].items()) for w in ways), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps per sample (the cost is per step)")
    parser.add_argument("--profile", action="store_true", help="profile one guided step per case instead")
    args = parser.parse_args()
    from backend.threads import prepare

    prepare()   # threads as signforge chooses them (before torch loads)
    import torch

    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
               "load_average": os.getloadavg()}
    results = profile_steps(args.repeats) if args.profile else measure(args.repeats, args.steps)
    out = {"machine": machine, "threads": torch.get_num_threads(), "repeats": args.repeats, "results": results}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("guidance_profile.json" if args.profile else "guidance.json")
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
