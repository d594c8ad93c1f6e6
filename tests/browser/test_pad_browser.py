"""The drawing pad in a real browser: JupyterLab 4 and Notebook 7 serving notebook 07, headless Chromium drawing.

What it proves that the unit tests cannot: the widgets render in both front ends, the canvas's mouse and touch events
reach the kernel, and what a person draws is read and shown. It runs the notebook (Run All) on a copy in a
temporary folder, draws digits on the first pad with mouse moves (and one with touch events), checks the answer
the pad shows, switches the pad to number mode and writes a number, and saves a screenshot of the pad to
``docs/pad.png``.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``; Playwright's own browser download is
never used). Run it with ``pytest -m browser tests/browser``; it takes about a minute per front end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium) to run the "
        "browser test",
        allow_module_level=True,
    )

from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402

from digitlib.render import example_strokes  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "07_drawing_pad.ipynb"
SCREENSHOT = REPO / "docs" / "pad.png"

CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]
SERVER_START_SECONDS = 120
NOTEBOOK_RUN_SECONDS = 240
ANSWER_SECONDS = 30
#: Mouse steps are at most this far apart (canvas px), about what a real mouse delivers per frame.
STEP_PX = 6.0


def _wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(f"The server did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server (it shuts its kernel down); kill it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


#: The two front ends the pad must work in: (module to run, its app's config class, the notebook's URL path).
FRONT_ENDS = {
    "jupyterlab": ("jupyterlab", "LabApp", "lab/tree"),
    "notebook7": ("notebook", "JupyterNotebookApp", "notebooks"),
}


@pytest.fixture(scope="module", params=list(FRONT_ENDS))
def lab_url(request: pytest.FixtureRequest, free_port) -> Iterator[str]:
    """A JupyterLab 4 (or Notebook 7) server on loopback serving a copy of notebook 07; yields the notebook's URL."""
    module, app, path = FRONT_ENDS[request.param]
    work = Path(tempfile.mkdtemp(prefix="digitlib-browser-"))
    notebooks = work / "notebooks"
    notebooks.mkdir()
    shutil.copy2(NOTEBOOK, notebooks / NOTEBOOK.name)
    settings = work / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No "would you like news?" toast over the notebook, and no request to the internet for it.
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), os.urandom(16).hex()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_DATA_DIR=str(work / "data"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        IPYTHONDIR=str(work / "ipython"),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    log = work / "server.log"
    command = [
        sys.executable,
        "-m",
        module,
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.terminals_enabled=False",
        "--allow-root",
        f"--{app}.expose_app_in_browser=True",
        f"--{app}.user_settings_dir={work / 'settings'}",
        f"--{app}.workspaces_dir={work / 'workspaces'}",
    ]
    if module == "jupyterlab":
        command += [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
    with log.open("w") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=work)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", server, log)
        yield f"http://127.0.0.1:{port}/{path}/{NOTEBOOK.name}?token={token}"
    finally:
        _stop(server)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def page(lab_url: str) -> Iterator[Page]:
    """Chromium showing notebook 07 after Run All, with every cell run."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Chromium's sandbox cannot start as root (CI containers); there it must be off.
            args=CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else []),
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(ANSWER_SECONDS * 1000)
            page.goto(lab_url)
            _run_all_cells(page)
            yield page
        finally:
            browser.close()


_NOTEBOOK_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return Boolean(kernel && kernel.status === 'idle' && panel.content && panel.content.widgets.length);
}"""

_RUN_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
    return {kernel: panel.sessionContext.session.kernel.status, counts: cells.map(cell => cell.model.executionCount)};
}"""


def _run_all_cells(page: Page) -> None:
    page.wait_for_function(_NOTEBOOK_READY, timeout=SERVER_START_SECONDS * 1000, polling=500)
    # The committed notebook has outputs and execution counts: clear them, so that a count means "ran now".
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => ({_RUN_STATE})().counts.every(count => count === null)", polling=200)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + NOTEBOOK_RUN_SECONDS
    while True:
        state = page.evaluate(_RUN_STATE)
        if state["kernel"] == "idle" and None not in state["counts"]:
            return
        errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
        if errors.count():
            pytest.fail(f"a notebook cell failed in the browser:\n{errors.first.inner_text()[:2000]}")
        if time.monotonic() > deadline:
            pytest.fail(f"notebook 07 did not finish running within {NOTEBOOK_RUN_SECONDS} s: {state}")
        time.sleep(0.5)


def _to_page(canvas: Locator):
    """A function from canvas px to page coordinates (the canvas may be shown at another size than its pixels;
    the pad maps events back the same way)."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None, "the pad's canvas is not visible"
    scale_x = box["width"] / int(canvas.get_attribute("width"))
    scale_y = box["height"] / int(canvas.get_attribute("height"))
    return lambda point: (box["x"] + point[0] * scale_x, box["y"] + point[1] * scale_y)


def _draw(page: Page, canvas: Locator, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw strokes (canvas px) with the mouse: press, move in small steps, release."""
    to_page = _to_page(canvas)
    for stroke in strokes:
        page.mouse.move(*to_page(stroke[0]))
        page.mouse.down()
        for previous, point in zip(stroke, stroke[1:], strict=False):
            distance = max(abs(point[0] - previous[0]), abs(point[1] - previous[1]))
            page.mouse.move(*to_page(point), steps=max(1, round(distance / STEP_PX)))
        page.mouse.up()


def _draw_with_finger(page: Page, canvas: Locator, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw strokes (canvas px) as touch events, through Chromium's DevTools protocol (as a touch screen does)."""
    to_page = _to_page(canvas)
    devtools = page.context.new_cdp_session(page)
    try:
        for stroke in strokes:
            for index, point in enumerate(stroke):
                kind = "touchStart" if index == 0 else "touchMove"
                x, y = to_page(point)
                devtools.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            devtools.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        devtools.detach()


def _densify(stroke: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stroke with points at most STEP_PX apart, as a finger's touch moves arrive."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        steps = max(1, round(max(abs(x1 - x0), abs(y1 - y0)) / STEP_PX))
        points += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps) for k in range(1, steps + 1)]
    return points


def _first_pad(page: Page) -> Locator:
    pad = page.locator(".digitlib-pad").first
    expect(pad).to_be_visible()
    canvas = pad.locator(".digitlib-pad-canvas")
    box = canvas.bounding_box()
    # Shown at its own size: a stretched canvas would distort what people draw.
    assert box is not None and (round(box["width"]), round(box["height"])) == (280, 280), box
    return pad


def _answer(pad: Locator) -> Locator:
    return pad.locator(".digitlib-pad-result .digitlib-pad-answer")


def _set_mode(pad: Locator, mode: str) -> None:
    button = pad.locator(".digitlib-pad-mode button", has_text=mode)
    button.click()
    expect(button).to_have_class(re.compile(r"\bmod-active\b"))


def _clear(pad: Locator) -> None:
    pad.locator(".digitlib-pad-clear").click()
    expect(_answer(pad)).to_have_attribute("data-state", "empty")


@pytest.mark.parametrize("digit", ["7", "3", "4"])
def test_pad_reads_a_digit_drawn_with_the_mouse(page: Page, digit: str) -> None:
    pad = _first_pad(page)
    _set_mode(pad, "digit")
    _clear(pad)
    _draw(page, pad.locator(".digitlib-pad-canvas"), example_strokes(digit))
    answer = _answer(pad)
    expect(answer).to_have_attribute("data-state", "confident", timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_have_text(digit)
    expect(pad.locator(".digitlib-pad-bars .digitlib-pad-top")).to_contain_text(digit)
    expect(pad.locator(".digitlib-pad-error")).to_be_hidden()
    if digit == "4" and "/lab/" in page.url:  # the last digit in JupyterLab: a picture of the pad for the README
        SCREENSHOT.parent.mkdir(exist_ok=True)
        partial = SCREENSHOT.with_name(f".{SCREENSHOT.name}.partial.png")
        pad.screenshot(path=str(partial))
        os.replace(partial, SCREENSHOT)


def test_undo_button_takes_back_the_last_stroke(page: Page) -> None:
    pad = _first_pad(page)
    _set_mode(pad, "digit")
    _clear(pad)
    _draw(page, pad.locator(".digitlib-pad-canvas"), example_strokes("7"))
    expect(_answer(pad)).to_have_text("7", timeout=ANSWER_SECONDS * 1000)
    pad.locator(".digitlib-pad-undo").click()
    expect(_answer(pad)).to_have_attribute("data-state", "empty")


def test_pad_reads_a_digit_drawn_with_a_finger(page: Page) -> None:
    pad = _first_pad(page)
    _set_mode(pad, "digit")
    _clear(pad)
    strokes = [_densify(stroke) for stroke in example_strokes("2")]
    _draw_with_finger(page, pad.locator(".digitlib-pad-canvas"), strokes)
    answer = _answer(pad)
    expect(answer).to_have_attribute("data-state", "confident", timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_have_text("2")


def test_pad_reads_a_number_in_number_mode(page: Page) -> None:
    pad = _first_pad(page)
    _set_mode(pad, "number")
    _clear(pad)
    _draw(page, pad.locator(".digitlib-pad-canvas"), example_strokes("205"))
    answer = _answer(pad)
    expect(answer).to_have_attribute("data-state", "confident", timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_have_text("205")
    expect(pad.locator(".digitlib-pad-views figure")).to_have_count(3)
