"""Classifier-free guidance's one batch against the two-pass reference, and the attention paths.

HandMDM sampled directly (``backend.diffusion.sample``, DDIM, guidance 2.5) with the shipped
weights, for 1, 4 and 16 variants of a 2 s clip and for one variant of 2, 8 and 16 s. The
shipped run takes at most 4 s; the 8 and 16 s cases load its weights into a copy that
accepts longer motions (positions are sinusoidal: nothing learned depends on the length), so
they time the sums a longer run would do, not a trained long-clip model. Six ways per case:

- ``batched``: guidance as ``generate`` runs it: ``HandMDM.guidance_pair`` (``GuidedPair``),
  both halves' tokens packed through one pass, the work they share done once per step and
  what depends on the prompt alone once per run, the layers in the format ``backend.precision``
  picks (bfloat16 under autocast on a CPU with AVX512-BF16 or AMX, else float32;
  ``SIGNFORGE_PRECISION`` sets it);
- ``batched_float32``: the same in float32 (what sharing the work gives alone);
- ``batched_torch``: the doubled batch (conditional rows, then dropped rows) through torch's
  encoder layers with the padding mask (the path before issue 21), float32;
- ``two_pass``: the reference's two forwards per step (conditional, then unconditional), each
  ``HandMDM.forward`` as it is (``handmdm.encode``: unmasked SDPA, the dropped pass on its kept
  positions, the last layer on the frames alone), float32, so the reference has every
  speed-up that is not about sharing work between the halves or the number format;
- ``two_pass_picked``: those two forwards in ``batched``'s format (what the format gives alone);
- ``two_pass_torch``: the same two forwards through torch's encoder layers, float32 (the
  reference as issue 21 measured it).

Threads are chosen as ``signforge`` chooses them (``backend.threads``; ``SIGNFORGE_THREADS``
sets them). The machine is shared and its speed drifts, so the ways run interleaved (the order
rotating each round) and each ratio is the median of per-round ratios. Bars (issue 21):
two_pass over batched at least 1.5 at 1 and 4 variants, and at least 2 at 16 s (wall time). The
same ratio in the process's CPU time is printed beside it: on a loaded machine a run's wall
time is mostly its waits for a core, which its CPU time leaves out. Float32's linear layers run
at the cores' peak, so at 16 s, where the halves share little, batching alone cannot reach 2:
``batched_float32`` and ``two_pass_picked`` show each part's share.

``--profile`` instead times and profiles one guided step, batched and two-pass, at 1 and 4
variants of 2 s and one of 8 and 16 s with torch's profiler: ops per step and the CPU time's
share in linear layers, attention and the rest (issue 21: where a guided step's time goes).

``--tree DIR`` runs another source tree's HandMDM and sampler (``git archive REV backend | tar -x
-C DIR``) batched and two-pass beside these, with the same weights, to measure a change
against its parent in one run.

Run: python -m benchmarks.guidance [--repeats 5] [--steps 20] [--profile] [--tree DIR]
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
FLOAT32 = ("batched_float32", "batched_torch", "two_pass", "two_pass_torch")
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


def _tree(tree: Path):
    """Another source tree's ``handmdm`` and ``schedule`` modules, loaded beside this tree's
    (inside this tree's packages, so their relative imports resolve here)."""
    import importlib.util
    import sys

    mods = []
    for package, rel in (("backend.models", "backend/models/handmdm.py"), ("backend.diffusion", "backend/diffusion/schedule.py")):
        name = f"{package}._tree_{Path(rel).stem}"
        spec = importlib.util.spec_from_file_location(name, tree / rel)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def measure(repeats: int, steps: int, tree: Path | None = None) -> dict:
    import torch

    from backend.diffusion import CosineSchedule, sample
    from backend.precision import autocast_dtype
    from backend.text import load_text_encoder

    other = _tree(tree) if tree is not None else None

    enc = load_text_encoder("minilm").encode([PROMPT])
    schedule = CosineSchedule.create(100)
    picked = str(autocast_dtype("cpu") or torch.float32).removeprefix("torch.")   # generate's format here
    results = {"steps": steps, "guidance": GUIDANCE, "threads": torch.get_num_threads(), "format": picked, "cases": {}}
    for variants, seconds in CASES:
        net, frames = _model(seconds)
        cond = {"text": enc.tokens.expand(variants, -1, -1), "text_mask": enc.mask.expand(variants, -1)}

        nets = {"": net}
        if other is not None:   # the other tree's model with the same weights
            nets["@tree"] = other[0].HandMDM(net.cfg)
            nets["@tree"].load_state_dict(net.state_dict())
            nets["@tree"].eval()

        def run(name, cond=cond, frames=frames):
            which = "@tree" if name.endswith("@tree") else ""
            m, draw = nets[which], (other[1].sample if which else sample)
            way = name.removesuffix("@tree")
            m.fast_attention = not way.endswith("_torch")
            # the ways as generate runs them take the format it picks; the references float32
            # (another tree's sampler may predate the choice: it gets none)
            fmt = {} if which else {"precision": None if way in ("batched", "two_pass_picked") else "float32"}

            def two_pass(x, t, c):
                x0_cond = m(x, t, c)
                x0_uncond = m(x, t, {**c, "drop": torch.ones(len(x), dtype=torch.bool)})
                return x0_uncond + GUIDANCE * (x0_cond - x0_uncond)
            fn, g = (m, GUIDANCE) if name.startswith("batched") else (two_pass, 1.0)
            try:
                return draw(fn, (variants, frames, net.cfg.features), schedule, cond, guidance=g, steps=steps,
                            generator=torch.Generator().manual_seed(0), **fmt)
            finally:
                m.fast_attention = True

        names = ["batched", "batched_float32", "batched_torch", "two_pass", "two_pass_picked", "two_pass_torch"]
        names += [] if other is None else ["batched@tree", "two_pass@tree"]
        times: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}   # CPU seconds: less the waits for a busy core
        with torch.inference_mode():
            outs = {n: run(n) for n in names}   # also the warm-up
            # float32 ways against each other (float order only); the picked format against float32
            diff = max(float((outs[n] - outs["batched_float32"]).abs().max()) for n in names if n in FLOAT32)
            fmt_diff = float((outs["batched"] - outs["batched_float32"]).abs().mean())
            for r in range(repeats):
                for n in names[r % len(names):] + names[:r % len(names)]:
                    t0, c0 = time.perf_counter(), time.process_time()
                    run(n)
                    times[n].append(time.perf_counter() - t0)
                    cpu[n].append(time.process_time() - c0)
        ratio = lambda a, b: round(statistics.median(x / y for x, y in zip(times[a], times[b])), 2)  # noqa: E731
        cpu_of = lambda a, b: round(statistics.median(x / y for x, y in zip(cpu[a], cpu[b])), 2)  # noqa: E731
        cpu_ratio = cpu_of("two_pass", "batched")
        case = {"variants": variants, "seconds": seconds, "model_frames": frames,
                **{f"{n}_s": round(statistics.median(times[n]), 4) for n in names},
                "two_pass_over_batched": ratio("two_pass", "batched"),
                "two_pass_over_batched_cpu": cpu_ratio,
                "two_pass_torch_over_batched": ratio("two_pass_torch", "batched"),
                "batched_torch_over_batched": ratio("batched_torch", "batched"),
                # each part alone: sharing the halves' work (float32), and the number format
                "two_pass_over_batched_float32": ratio("two_pass", "batched_float32"),
                "two_pass_picked_over_batched": ratio("two_pass_picked", "batched"),
                "batched_float32_over_batched": ratio("batched_float32", "batched"),
                **({} if other is None else {f"{n}_s": round(statistics.median(times[n]), 4) for n in names[6:]}),
                **({} if other is None else {"tree_batched_over_batched": ratio("batched@tree", "batched"),
                                             "tree_batched_over_batched_cpu": cpu_of("batched@tree", "batched"),
                                             "tree_two_pass_over_two_pass": ratio("two_pass@tree", "two_pass"),
                                             "tree_two_pass_over_two_pass_cpu": cpu_of("two_pass@tree", "two_pass"),
                                             "tree_two_pass_over_tree_batched": ratio("two_pass@tree", "batched@tree"),
                                             "tree_two_pass_over_tree_batched_cpu": cpu_of("two_pass@tree", "batched@tree")}),
                "max_abs_diff": diff, "picked_format_mean_abs_diff": fmt_diff}
        key = f"{variants}x{seconds:g}s"
        results["cases"][key] = case
        print(f"{key:>7}: " + "  ".join(f"{n} {case[n + '_s'] * 1000:.1f}" for n in names[:6]) + " ms"
              f" | two_pass/batched {case['two_pass_over_batched']:.2f} (CPU time {cpu_ratio:.2f})"
              f"  two_pass_torch/batched {case['two_pass_torch_over_batched']:.2f}"
              f"  batched_torch/batched {case['batched_torch_over_batched']:.2f}; each part alone: sharing the"
              f" halves' work {case['two_pass_over_batched_float32']:.2f} in float32,"
              f" {case['two_pass_picked_over_batched']:.2f} in {picked}; the format"
              f" {case['batched_float32_over_batched']:.2f} (batched_float32/batched)"
              f"  (float32 max diff {diff:.1e}; {picked} mean diff {fmt_diff:.1e})", flush=True)
        if other is not None:
            print(f"{'':>7}  --tree: batched {case['batched@tree_s'] * 1000:7.1f} ms  two_pass {case['two_pass@tree_s'] * 1000:7.1f}"
                  f" | its batched/this batched {case['tree_batched_over_batched']:.2f}"
                  f" (CPU {case['tree_batched_over_batched_cpu']:.2f})"
                  f"  its two_pass/this two_pass {case['tree_two_pass_over_two_pass']:.2f}"
                  f" (CPU {case['tree_two_pass_over_two_pass_cpu']:.2f})"
                  f"  its two_pass/its batched {case['tree_two_pass_over_tree_batched']:.2f}"
                  f" (CPU {case['tree_two_pass_over_tree_batched_cpu']:.2f})", flush=True)
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
    parser.add_argument("--tree", type=Path, help="another source tree whose HandMDM and sampler run beside this one's "
                                                  "(git archive REV backend | tar -x -C DIR): batched and two-pass")
    args = parser.parse_args()
    from backend.threads import prepare

    prepare()   # threads as signforge chooses them (before torch loads)
    import torch

    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
               "load_average": os.getloadavg()}
    results = profile_steps(args.repeats) if args.profile else measure(args.repeats, args.steps, args.tree)
    out = {"machine": machine, "threads": torch.get_num_threads(), "repeats": args.repeats, "results": results}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("guidance_profile.json" if args.profile else "guidance.json")
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
