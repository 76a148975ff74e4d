"""One error base with an exit code, and an install that declares what the code imports: every
third-party module is in pyproject.toml, and the core a GPU server installs needs neither
Blender's bpy nor MediaPipe."""
import ast
import importlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from blender_addon.core.errors import MissingExtraError, SignForgeError

ROOT = Path(__file__).resolve().parents[1]
OURS = {"backend", "training", "blender_addon", "benchmarks", "conftest"}
# Modules that come with something declared, or are the tests' own: Blender's built-in
# modules live inside bpy; triton is torch's own dependency, loaded by conftest only if there;
# sitecustomize is the tests' network guard.
NOT_DISTRIBUTIONS = {"mathutils", "bpy_extras", "_cycles", "addon_utils", "triton", "sitecustomize"}


def _name(requirement: str) -> str:
    return re.split(r"[=<>\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imports(folders) -> dict[str, str]:
    """Top-level third-party module -> a file importing it, over every .py file in ``folders``."""
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OURS | {"__future__"}:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_module_is_declared():
    project = _project()
    extras = project["optional-dependencies"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for reqs in extras.values() for r in reqs}
    dists = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imports(["backend", "training", "blender_addon", "benchmarks", "tests"]).items()):
        if module in NOT_DISTRIBUTIONS:
            continue
        names = {_name(d) for d in dists.get(module, [])}
        if not names & declared:
            missing.append(f"{module} (imported by {where}; distribution {sorted(names) or 'not installed'})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_the_server_core_needs_neither_blender_nor_mediapipe_and_make_installs_everything():
    project = _project()
    core = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    for heavy in ("bpy", "mediapipe", "opencv-contrib-python", "open-clip-torch", "ray"):
        assert heavy not in core
    assert {"blender", "video", "train", "ray"} <= set(extras)
    # [dev] (what `make setup`, `make demo` and `make test` install) pulls in every extra
    [self_ref] = [r for r in extras["dev"] if r.startswith("signforge[")]
    assert set(self_ref[len("signforge["):-1].split(",")) == set(extras) - {"dev"}
    assert "-e '.[dev]'" in (ROOT / "Makefile").read_text()


def test_the_backend_imports_and_serves_without_the_extras(tmp_path):
    """With bpy, MediaPipe, OpenCV, CLIP and Ray made unimportable, the server's modules load
    and reading a video says which extra it needs, in one line."""
    blocked = ["bpy", "mediapipe", "cv2", "open_clip", "torchvision", "ray"]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 64)
    code = (f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
            "import backend.server, backend.generate, backend.reconstruct, backend.io, training.train\n"
            f"sys.argv = ['signforge', 'reconstruct', {str(clip)!r}, '-o', {str(tmp_path / 'x.npz')!r}]\n"
            "from backend.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("error: reading video needs the 'video' extra, which is not installed (no module "
                                   "'cv2'): pip install 'signforge[video]'")


def _error_classes():
    """(module, class name) of every class named *Error in SignForge's bpy-free modules."""
    out = []
    for folder in ("backend", "training", "blender_addon"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("blender_addon", "blender") or rel.name in ("batch.py", "build.py") or \
                    rel == Path("blender_addon/__init__.py"):
                continue   # the Blender shell imports bpy
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                    module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
                    out.append((module, node.name))
    return out


@pytest.mark.parametrize("module,name", _error_classes())
def test_every_error_class_derives_from_one_base(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, SignForgeError) and cls.exit_code in (2, 3)


def test_the_base_keeps_each_error_what_it_was():
    from backend.generate import GenerateError
    from backend.io import MotionFileError
    from backend.runs import RunError

    assert issubclass(MotionFileError, ValueError) and issubclass(RunError, ValueError)
    assert issubclass(GenerateError, RuntimeError) and issubclass(MissingExtraError, ImportError)
    assert len(_error_classes()) >= 17


def test_the_addons_private_backend_gets_video_and_clip_but_not_bpy():
    from blender_addon.core.install import requirements

    reqs = {_name(r) for r in requirements(tomllib.loads((ROOT / "pyproject.toml").read_text()))}
    assert {"torch", "mediapipe", "opencv-contrib-python", "open-clip-torch", "torchvision"} <= reqs
    assert "bpy" not in reqs and "ray" not in reqs and not any(r.startswith("signforge") for r in reqs)


def test_one_version_string():
    import backend
    from blender_addon.build import manifest

    assert "version" in _project()["dynamic"] and "version" not in _project()
    assert not re.search(r"^version\s*=", (ROOT / "blender_manifest.toml").read_text(), re.M)
    assert manifest()["version"] == backend.__version__   # what the add-on's zip holds


def test_no_path_of_this_machine_ships():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    shipped = [f for f in files if f.endswith((".json", ".md", ".toml", ".txt", ".cfg")) and not f.startswith("tests/")]
    leaks = [f for f in shipped if re.search(r"(?<![\w.])/(work|tmp|root|home|lustre)/", (ROOT / f).read_text(
        encoding="utf-8", errors="replace"))]
    assert not leaks, f"absolute machine paths in {leaks}"


def test_the_lexicon_is_where_the_user_says_and_nowhere_hard_coded(tmp_path, monkeypatch):
    from backend.data import lexicon

    assert "/work" not in (ROOT / "backend/data/lexicon.py").read_text()
    monkeypatch.delenv(lexicon.ENV_LEXICON, raising=False)
    assert lexicon.resolve_lexicon_path() == ROOT.parent / "shared" / "data" / "asl-lex" / "signdata.csv"
    with pytest.raises(lexicon.LexiconError, match=r"asl-lex\.org.*CC BY-NC 4\.0"):
        lexicon.read_lexicon(tmp_path / "signdata.csv")
