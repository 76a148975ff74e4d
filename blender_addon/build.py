"""Build the installable extension zip: ``python -m blender_addon.build [--out dist]``.

The zip holds ``blender_manifest.toml`` (from the repository root, with ``backend.__version__``
as its version) beside this package's files, minus the manifest's ``[build]
paths_exclude_pattern`` entries, plus ``backend_wheel/``: SignForge's own wheel (``pip wheel
--no-deps`` of a copy of the sources) and ``requirements.txt`` (``pyproject.toml``'s pins
and the backend's extras, less ``bpy``), from which the
preferences' Install backend makes a private backend (``core/install.py``). The zip names
no path of this machine, so it installs anywhere. ``--link-checkout`` adds
``backend_origin.json`` naming this checkout, so the developer's own Blender finds its
``.venv`` without an install; never give that zip to anyone. Standard library and pip
(run as a subprocess); never bpy.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from .core.install import REQUIREMENTS, WHEEL_FOLDER, requirements

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
MANIFEST = ROOT / "blender_manifest.toml"
ALWAYS_EXCLUDED = ("build.py",)   # the builder itself is not part of the add-on
ORIGIN = "backend_origin.json"
# what the wheel is built from (pyproject's packages and its readme), copied so the build
# writes no build/ or egg-info into the checkout
WHEEL_SOURCES = ("pyproject.toml", "README.md", "backend", "training", "blender_addon")


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


def manifest_text() -> str:
    """The manifest as the zip holds it: the repository's, with SignForge's one version string
    (``backend.__version__``) as its ``version``, after its ``id``."""
    from backend import __version__

    lines = MANIFEST.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next((k for k, line in enumerate(lines) if line.startswith("id =")), None)
    if at is None:
        raise SystemExit(f"{MANIFEST}: the manifest lacks 'id'")
    lines.insert(at + 1, f'version = "{__version__}"\n')
    return "".join(lines)


def manifest() -> dict:
    return tomllib.loads(manifest_text())


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def backend_wheel(out_dir: Path) -> Path:
    """SignForge's wheel (``backend`` with its shipped weights), built by pip with the running
    Python's setuptools (``--no-build-isolation``: offline, and seconds instead of a fresh
    build environment) from a copy of the sources in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="signforge-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        skip = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in WHEEL_SOURCES:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, src / name, ignore=skip)
            else:
                shutil.copy2(ROOT / name, src / name)
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--disable-pip-version-check", "--quiet", "-w", str(Path(tmp) / "wheel"), str(src)],
                           capture_output=True, text=True)
        wheels = sorted((Path(tmp) / "wheel").glob("signforge-*.whl"))
        if r.returncode != 0 or len(wheels) != 1:
            last = (r.stderr.strip() or r.stdout.strip() or "no wheel written").splitlines()[-1]
            raise SystemExit(f"building SignForge's wheel failed: {last}")
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheels[0], out_dir / wheels[0].name))


def build(out_dir: Path, link_checkout: bool = False) -> Path:
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
        z.writestr("blender_manifest.toml", manifest_text())
        for p in files:
            rel = p.relative_to(PACKAGE).as_posix()
            if rel in ALWAYS_EXCLUDED or rel == ORIGIN or rel.startswith(WHEEL_FOLDER + "/") \
                    or _excluded(rel, patterns) or p.suffix == ".pyc":
                continue
            z.write(p, rel)
        with tempfile.TemporaryDirectory(prefix="signforge-build-") as wheel_dir:
            wheel = backend_wheel(Path(wheel_dir))
            z.write(wheel, f"{WHEEL_FOLDER}/{wheel.name}")
        z.writestr(f"{WHEEL_FOLDER}/{REQUIREMENTS}", "\n".join(requirements(pyproject())) + "\n")
        if link_checkout:
            z.writestr(ORIGIN, json.dumps({"repository": str(ROOT)}, indent=1))
    tmp.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the SignForge extension zip")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--link-checkout", action="store_true",
                        help=f"write {ORIGIN} naming this checkout, so an installed add-on uses its .venv "
                             "(the developer's own Blender only: the zip then names a path of this machine)")
    args = parser.parse_args()
    print(build(args.out, link_checkout=args.link_checkout))


if __name__ == "__main__":
    main()
