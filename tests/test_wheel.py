"""The wheel is the package: built from this checkout, installed into a folder outside it, it reads a digit.

No network: the wheel is built without build isolation (setuptools is pinned in requirements.txt) and installed
with --no-deps (the dependencies are this environment's)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from digitlib.pen_digits import load_pen_digits

ROOT = Path(__file__).resolve().parents[1]

READ_A_DIGIT = """
import json, sys
import digitlib
from digitlib import Recognizer
from digitlib.pen_digits import load_pen_digits
from digitlib.examples import template_strokes

rec = Recognizer.load()
prediction = rec.predict_strokes(template_strokes(7), 280, 20)
print(json.dumps({
    "package": digitlib.__file__,
    "model": rec.name,
    "digit": prediction.digit,
    "pen_digits": len(load_pen_digits("all")),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of what the wheel is made of, so setuptools' build/ folder (which it reuses, stale files
    # and all) is never the checkout's.
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "digitlib", source / "digitlib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("digitlib-*.whl")
    return built


def test_the_wheel_carries_the_model_the_card_the_baselines_and_the_pen_digits(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in (
        "digitlib/assets/digitlib_cnn.keras",
        "digitlib/assets/digitlib_cnn.json",
        "digitlib/assets/unipen-digits-dev.json.gz",
        "digitlib/assets/README.md",
        "digitlib/pad.css",
    ):
        assert asset in names, f"{asset} is missing from {wheel.name}"
    assert any(n.startswith("digitlib/assets/baselines/") for n in names)
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/")) for n in names)


def test_the_installed_wheel_reads_a_digit_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True
    )
    env = {**os.environ, "PYTHONPATH": str(site), "DIGITLIB_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-c", READ_A_DIGIT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site), f"imported {found['package']}, not the installed wheel"
    assert Path(found["model"]).is_relative_to(site)
    assert found["digit"] == 7
    assert found["pen_digits"] == len(load_pen_digits("all"))  # both files shipped, checksums verified
