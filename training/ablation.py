"""Side by side: what each HandMDM run changed, and how the fidelity rows moved.

``python -m training.ablation --out reports/handmdm-ablations.md REPORT=LABEL ...`` reads
fidelity reports that ``signforge eval fidelity`` wrote (their markdown tables, the only
record a report keeps) and puts, for every prompt set, each run's generated / ceiling
ratio per agreement row and its kinematics medians in one table, a column per run, in the
order given. LABEL says what that run changed against the one before it. Reports made on
different datasets or with different settings are not comparable; each column names its
report, whose header has its command. numpy-free, torch-free.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from backend.atomic import atomic_path
from blender_addon.core.errors import SignForgeError

KINEMATICS = ("peak wrist speed, m/s", "share of frame steps with a wrist over 4 m/s", "longest hold in the sign, s",
              "idle wrist's farthest distance from rest (one-handed texts), cm")


class ReportError(SignForgeError, ValueError):
    pass


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_report(path: str | Path) -> dict[str, dict[str, str]]:
    """{set name: {row: value}} from a fidelity report: agreement rows give their generated /
    ceiling ratio, kinematics rows their generated median."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the report {path}: {exc}") from None
    if not text.startswith("# HandMDM fidelity"):
        raise ReportError(f"{path} is not a fidelity report from `signforge eval fidelity`")
    sets: dict[str, dict[str, str]] = {}
    current = None
    kind = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            if current == "Definitions":
                break
            sets[current] = {}
        elif current and line.startswith("| row |"):
            kind = "agreement"
        elif current and line.startswith("| kinematics |"):
            kind = "kinematics"
        elif current and line.startswith("|") and not line.startswith("|---"):
            cells = _cells(line)
            if kind == "agreement" and len(cells) == 5:
                sets[current][cells[0]] = cells[4]
            elif kind == "kinematics" and len(cells) == 7 and cells[0] in KINEMATICS:
                sets[current][cells[0]] = re.sub(r"\s*\[.*\]", "", cells[1])
    if not any(sets.values()):
        raise ReportError(f"{path} holds no fidelity tables")
    return {name: rows for name, rows in sets.items() if rows}   # not the paraphrase gap's summary


def write_ablations(columns: list[tuple[str, str]], out: str | Path, command: str) -> Path:
    """``columns``: (report path, label) in order; one table per prompt set."""
    reports = [(p, label, read_report(p)) for p, label in columns]
    lines = ["# HandMDM ablations: what moved the fidelity rows", "", f"Made by: `{command}`", "",
             "Each column is one run's fidelity report; agreement rows are generated / ceiling (1.00 is the "
             "second ground truth's agreement; for the distance error, lower is better), kinematics rows the "
             "generated median. What each run changed against the column before it:", ""]
    for i, (path, label, _) in enumerate(reports, 1):
        lines.append(f"{i}. **{label}** ([{Path(path).name}]({Path(path).name}))")
    lines.append("")
    names = [n for n in reports[0][2] if all(n in r[2] for r in reports)]
    for name in names:
        rows = list(dict.fromkeys(row for _, _, r in reports for row in r[name]))
        lines += [f"## {name}", "", "| row | " + " | ".join(str(i) for i in range(1, len(reports) + 1)) + " |",
                  "|---|" + "---|" * len(reports)]
        for row in rows:
            lines.append(f"| {row} | " + " | ".join(r[name].get(row, "n/a") for _, _, r in reports) + " |")
        lines.append("")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", metavar="REPORT=LABEL", help="a fidelity report and what its run changed")
    ap.add_argument("--out", default="reports/handmdm-ablations.md")
    a = ap.parse_args(argv)
    columns = []
    for item in a.reports:
        path, sep, label = item.partition("=")
        if not sep or not label.strip():
            ap.error(f"{item!r}: give REPORT=LABEL")
        columns.append((path, label.strip()))
    command = "python -m training.ablation --out " + a.out + " " + " ".join(f"'{p}={lab}'" for p, lab in columns)
    try:
        print(f"wrote {write_ablations(columns, a.out, command)}")
    except ReportError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
