"""Build the installable extension zip: ``python -m blender_addon.build [--out dist]``.

The zip holds ``blender_manifest.toml`` (from the repository root) beside this package's
files, minus the manifest's ``[build] paths_exclude_pattern`` entries, plus
``backend_origin.json`` naming this repository, so an installed add-on can find the
repository's ``.venv`` as its backend. Standard library only; never bpy.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import tomllib
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
MANIFEST = ROOT / "blender_manifest.toml"
ALWAYS_EXCLUDED = ("build.py",)   # the builder itself is not part of the add-on


def _excluded(rel: str, patterns: list[str]) -> bool:
    """Blender's gitignore-like patterns: "/x/" anchors at the root, "x/" matches a folder anywhere."""
    parts = rel.split("/")
    for pat in patterns:
        anchored, folder = pat.startswith("/"), pat.endswith("/")
        body = pat.strip("/")
        if folder:
            dirs = parts[:-1]
            if (anchored and dirs[:1] == [body]) or (not anchored and any(fnmatch.fnmatch(d, body) for d in dirs)):
                return True
        elif anchored:
            if fnmatch.fnmatch(rel, body):
                return True
        elif fnmatch.fnmatch(parts[-1], body) or fnmatch.fnmatch(rel, body):
            return True
    return False


def manifest() -> dict:
    with open(MANIFEST, "rb") as fh:
        return tomllib.load(fh)


def build(out_dir: Path) -> Path:
    meta = manifest()
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type", "license",
                "blender_version_min"):
        if key not in meta:
            raise SystemExit(f"{MANIFEST}: the manifest lacks {key!r}")
    patterns = list(meta.get("build", {}).get("paths_exclude_pattern", []))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{meta['id']}-{meta['version']}.zip"
    tmp = target.with_suffix(".zip.partial")
    files = sorted(p for p in PACKAGE.rglob("*") if p.is_file())
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(MANIFEST, "blender_manifest.toml")
        for p in files:
            rel = p.relative_to(PACKAGE).as_posix()
            if rel in ALWAYS_EXCLUDED or rel == "backend_origin.json" or _excluded(rel, patterns) \
                    or p.suffix == ".pyc":
                continue
            z.write(p, rel)
        z.writestr("backend_origin.json", json.dumps({"repository": str(ROOT)}, indent=1))
    tmp.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the SignForge extension zip")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
