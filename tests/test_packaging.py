"""The wheel: built without a single setuptools warning, and carrying its data files.

A first ``./scripts/advisor`` installs the project; setuptools' warnings about
undeclared data folders (127 lines of them) looked like a failed install. The
build runs on a copy of the repository (it writes build/ and *.egg-info), with
the setuptools of the test environment (the ``test`` extra pins a recent one)
and no index: no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


def test_wheel_builds_quietly_with_rules_catalogue_and_translations(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    wheels = tmp_path / "wheels"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    # pip's own "WARNING: ..." lines are about this machine's pip configuration;
    # setuptools' warnings are classes: SetuptoolsWarning, BuildBackendWarning, ...
    assert "Warning" not in result.stderr, result.stderr
    assert "Warning" not in result.stdout, result.stdout
    (wheel,) = wheels.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "advisor/py.typed",
        "advisor/data/catalogue.json",
        "advisor/data/NOTICE-ISPDB.txt",
        "advisor/locale/fr/LC_MESSAGES/advisor.mo",
        *(f"advisor_rules/{p.name}" for p in (ROOT / "rules").glob("*.toml")),
    }
    assert len(expected) > 5  # the rules were found
    assert expected <= names, sorted(expected - names)
    # Every package with code is in the wheel too.
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "advisor").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
