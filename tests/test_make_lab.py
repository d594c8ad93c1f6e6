"""`make lab`, the README's first command, really serves the notebooks (also as root, as in many containers).

It opens on the lessons alone: the file browser lists the numbered notebooks and nothing else, and JupyterLab does
not ask whether to fetch Jupyter's news (a prompt over the first notebook, for a feed it cannot reach offline).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".venv/.digitlib-installed"  # the Makefile's install stamp


@pytest.fixture
def installed() -> None:
    """Only where the set-up has already run: this test must not create or update .venv itself."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if subprocess.run(["make", "-q", STAMP], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("the .venv set-up is missing or out of date: run `make setup` first")


def test_make_lab_prints_a_url_that_serves_jupyterlab(installed, free_port, tmp_path: Path) -> None:
    port, token = free_port(), os.urandom(16).hex()
    args = f"--ServerApp.port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    # The user's own JupyterLab settings and workspaces stay out of it: what is checked is what make lab sets up.
    env = os.environ | {
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # so that stopping it stops make and jupyter together
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/lab?token="  # printed with the token masked, as it was given
        deadline = time.monotonic() + 120
        while url not in log.read_text() and lab.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert url in log.read_text(), f"make lab printed no URL (exit code {lab.poll()}):\n{log.read_text()[-3000:]}"
        with urllib.request.urlopen(url + token, timeout=30) as response:
            assert response.status == 200
            assert "JupyterLab" in response.read().decode()
        served = get_json(port, token, "api/contents")
        names = sorted(item["name"] for item in served["content"])
        assert names, "the file browser is empty"
        assert all(re.fullmatch(r"\d\d_\w+\.ipynb", name) for name in names), f"not only the lessons: {names}"
        # The news prompt is shown exactly when the setting fetchNews is "none" (JupyterLab 4's announcements
        # plugin). What the page uses is the user's settings over the schema's defaults, which the overrides set.
        notification = get_json(port, token, "lab/api/settings/@jupyterlab/apputils-extension:notification")
        defaults = {name: value.get("default") for name, value in notification["schema"]["properties"].items()}
        composite = defaults | notification["settings"]
        assert composite["fetchNews"] == "false", composite
        assert composite["checkForUpdates"] is False, composite
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)


def get_json(port: int, token: str, path: str) -> dict:
    """GET a Jupyter server API ``path`` (without the leading slash) and decode its JSON."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())
