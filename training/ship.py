"""Copy a trained run into ``backend/weights/NAME`` and record its sha256 sums in the manifest.

    .venv/bin/python -m training.ship runs/handmdm-small handmdm-small --command "signforge train ..."

Only the files generation needs travel (config.json, weights.safetensors, stats.npz; the
scene parser, which has no statistics, ships the first two: ``--files config.json
weights.safetensors``); ``backend/weights/MANIFEST.json`` lists each with its sha256,
checked at load. The command that trained the run and the data's licence go into the
manifest too.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from backend.atomic import atomic_path
from backend.data.dataset import LICENCE_NOTE
from backend.runs import MANIFEST, RUN_FILES, WEIGHTS, sha256

LIMIT_MB = 40.0


def ship(run: Path, name: str, command: str, files: tuple[str, ...] = RUN_FILES) -> dict:
    """Copy ``files`` (all a run of its kind loads from) of ``run`` to ``backend/weights/name``."""
    missing = [f for f in files if not (run / f).exists()]
    if missing:
        raise SystemExit(f"{run} lacks {', '.join(missing)}: not a finished run folder")
    dest = WEIGHTS / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(run / f, dest / f)
    _hide_paths(dest)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"files": {}, "runs": {}}
    for f in files:
        manifest["files"][f"{name}/{f}"] = sha256(dest / f)
    losses = (run / "losses.csv").read_text().splitlines() if (run / "losses.csv").exists() else []
    header = losses[0].split(",") if losses else []
    last = losses[-1].split(",") if len(losses) > 1 else []
    column = header.index("loss") if "loss" in header else len(header) - 1   # the total, not a term
    manifest["runs"][name] = {"command": command, "licence": LICENCE_NOTE,
                              "final_loss": float(last[column]) if last else None,
                              "steps": int(last[0]) if last else 0}
    total = sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file()) / 1e6
    if total > LIMIT_MB:
        raise SystemExit(f"shipped weights would take {total:.1f} MB; the limit is {LIMIT_MB} MB")
    with atomic_path(MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


# the run config's folders, as the shipped copy shows them when they lie outside the checkout
PLACEHOLDERS = {"data": "DATA", "out": "RUN", "init": "RUN0"}


def _hide_paths(dest: Path) -> None:
    """The shipped config.json names the training run's folders as the manifest's command does
    (DATA, RUN, RUN0), never a path of the machine that trained it; the rest of it is kept as written."""
    from backend.runs import CONFIG

    meta = json.loads((dest / CONFIG).read_text())
    meta["run"] = {**meta["run"], **{k: v for k, v in PLACEHOLDERS.items() if meta["run"].get(k)}}
    with atomic_path(dest / CONFIG) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--command", required=True, help="the exact command that trained the run")
    ap.add_argument("--files", nargs="+", default=list(RUN_FILES),
                    help=f"the files the run's kind loads from (default: {' '.join(RUN_FILES)})")
    a = ap.parse_args()
    print(json.dumps(ship(a.run, a.name, a.command, tuple(a.files))["runs"][a.name], indent=1))


if __name__ == "__main__":
    main()
