"""The drawing pad in a real browser: JupyterLab 4 and Notebook 7, headless Chromium drawing with mouse and finger.

What it proves that the unit tests cannot: the widgets render in both front ends, the canvas's mouse and touch events
reach the kernel, what a person draws is read and shown, and a correction made with the pad's own buttons (from the
keyboard) lands in the drawings file. Each front end serves a temporary folder holding a small notebook that this
test writes itself (a digit pad and a number pad saving to a drawings file in that folder), so it does not depend
on how the teaching notebooks change; one light check opens notebooks/07 and sees that it shows a pad.

It saves screenshots for the README: the pad reading a drawn 4 (``docs/pad.png``) and the correct-and-learn row
under a drawing (``docs/correct.png``). Needs Debian's Chromium at /usr/bin/chromium (``apt-get install
chromium``; Playwright's own browser download is never used). Run it with ``pytest -m browser tests/browser``.
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
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium) to run the "
        "browser test",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright  # noqa: E402

from digitlib.drawings_store import PersonalDrawings  # noqa: E402
from digitlib.examples import example_strokes  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_07 = REPO / "notebooks" / "07_drawing_pad.ipynb"
PAD_SCREENSHOT = REPO / "docs" / "pad.png"
CORRECT_SCREENSHOT = REPO / "docs" / "correct.png"
TEST_NOTEBOOK = "pad_in_the_browser.ipynb"

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
NUMBER_CANVAS = (420, 200)


def _test_notebook(drawings_file: Path) -> nbformat.NotebookNode:
    """The notebook the browser runs: a digit pad and a number pad, both saving corrections to ``drawings_file``."""
    cells = [
        "from digitlib.pad import DrawingPad\n"
        "from digitlib.drawings_store import PersonalDrawings\n"
        "from digitlib.recognizer import Recognizer\n"
        "\n"
        "rec = Recognizer.load()\n"
        f"drawings = PersonalDrawings({str(drawings_file)!r})",
        "pad = DrawingPad(rec, drawings=drawings)\npad",
        f"number_pad = DrawingPad(rec, mode='number', canvas_size={NUMBER_CANVAS}, drawings=drawings)\nnumber_pad",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


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
    """Stop the server (it shuts its kernels down); kill it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


#: The two front ends the pad must work in: (module to run, its app's config class, the notebooks' URL path).
FRONT_ENDS = {
    "jupyterlab": ("jupyterlab", "LabApp", "lab/tree"),
    "notebook7": ("notebook", "JupyterNotebookApp", "notebooks"),
}


@dataclass(frozen=True)
class Server:
    """A Jupyter server on loopback serving a temporary folder of notebooks."""

    front_end: str
    base: str  # http://127.0.0.1:PORT/lab/tree (or /notebooks)
    token: str
    drawings_file: Path  # where the test notebook's pads save their corrections

    def url(self, notebook: str, workspace: str | None = None) -> str:
        """The notebook's page; in JupyterLab, in a workspace of its own when ``workspace`` is given (so that it
        does not also restore the notebooks other pages opened)."""
        base = self.base
        if workspace is not None and self.front_end == "jupyterlab":
            base = base.replace("/lab/tree", f"/lab/workspaces/{workspace}/tree")
        return f"{base}/{notebook}?token={self.token}"


@pytest.fixture(scope="module", params=list(FRONT_ENDS))
def server(request: pytest.FixtureRequest, free_port) -> Iterator[Server]:
    """JupyterLab 4 (or Notebook 7) serving the test notebook and a copy of notebook 07."""
    module, app, path = FRONT_ENDS[request.param]
    work = Path(tempfile.mkdtemp(prefix="digitlib-browser-"))
    notebooks = work / "notebooks"
    notebooks.mkdir()
    drawings_file = work / "my_digits.jsonl"
    nbformat.write(_test_notebook(drawings_file), notebooks / TEST_NOTEBOOK)
    shutil.copy2(NOTEBOOK_07, notebooks / NOTEBOOK_07.name)
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
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=work)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", process, log)
        yield Server(request.param, f"http://127.0.0.1:{port}/{path}", token, drawings_file)
    finally:
        _stop(process)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Chromium's sandbox cannot start as root (CI containers); there it must be off.
            args=CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else []),
        )
        try:
            yield browser
        finally:
            browser.close()


def _open_and_run(browser: Browser, url: str, until: str | None = None) -> Page:
    """A new page showing the notebook at ``url`` after Run All (or, with ``until``, once that selector shows)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(ANSWER_SECONDS * 1000)
    page.goto(url)
    _run_all_cells(page, until)
    return page


@pytest.fixture(scope="module")
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """Chromium showing the test notebook after Run All, with every cell run."""
    page = _open_and_run(browser, server.url(TEST_NOTEBOOK))
    yield page
    page.close()


_NOTEBOOK_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return Boolean(kernel && kernel.status === 'idle' && panel.content && panel.content.widgets.length);
}"""

_RUN_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return {kernel: kernel ? kernel.status : 'none', counts: cells.map(cell => cell.model.executionCount)};
}"""


_SCROLL_TO_CELL_WITH = """async (selector) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const index = notebook.widgets.findIndex(cell => cell.node.querySelector(selector));
    if (index < 0) return false;
    await notebook.scrollToItem(index, 'start');
    return true;
}"""


def _run_all_cells(page: Page, until: str | None = None) -> None:
    """Run every cell and wait until all ran, or until an element matching the CSS selector ``until`` exists."""
    page.wait_for_function(_NOTEBOOK_READY, timeout=SERVER_START_SECONDS * 1000, polling=500)
    # A committed notebook has outputs and execution counts: clear them, so that a count means "ran now".
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(f"() => ({_RUN_STATE})().counts.every(count => count === null)", polling=200)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + NOTEBOOK_RUN_SECONDS
    while True:
        state = page.evaluate(_RUN_STATE)
        if state["kernel"] == "idle" and None not in state["counts"]:
            return
        if until is not None and page.locator(until).count():
            return
        _fail_on_cell_error(page)
        if time.monotonic() > deadline:
            pytest.fail(f"the notebook did not finish running within {NOTEBOOK_RUN_SECONDS} s: {state}")
        time.sleep(0.5)


def _fail_on_cell_error(page: Page) -> None:
    errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
    if errors.count():
        pytest.fail(f"a notebook cell failed in the browser:\n{errors.first.inner_text()[:2000]}")


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
    before = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(*to_page(stroke[0]))
        page.mouse.down()
        for previous, point in zip(stroke, stroke[1:], strict=False):
            distance = max(abs(point[0] - previous[0]), abs(point[1] - previous[1]))
            page.mouse.move(*to_page(point), steps=max(1, round(distance / STEP_PX)))
        page.mouse.up()
    # What the pad shows beside the canvas changes as it reads; the canvas must stay under the pen.
    assert canvas.bounding_box() == before, "the canvas moved while it was drawn on"


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


def _pad(page: Page, index: int, size: tuple[int, int]) -> Locator:
    """The notebook's ``index``-th pad (0: the digit pad, 1: the number pad)."""
    pad = page.locator(".digitlib-pad").nth(index)
    expect(pad).to_be_visible()
    canvas = pad.locator(".digitlib-pad-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    # Shown at its own size: a stretched canvas would distort what people draw.
    assert box is not None and (round(box["width"]), round(box["height"])) == size, box
    return pad


def _digit_pad(page: Page) -> Locator:
    return _pad(page, 0, (280, 280))


def _number_pad(page: Page) -> Locator:
    return _pad(page, 1, NUMBER_CANVAS)


def _answer(pad: Locator) -> Locator:
    return pad.locator(".digitlib-pad-result .digitlib-pad-answer")


def _set_mode(pad: Locator, mode: str) -> None:
    button = pad.locator(".digitlib-pad-mode button", has_text=mode)
    button.click()
    expect(button).to_have_class(re.compile(r"\bmod-active\b"))


def _clear(pad: Locator) -> None:
    """Clear the pad and wait until the kernel has (a drawing read as "nothing to read" is empty too)."""
    pad.locator(".digitlib-pad-clear").click()
    expect(_answer(pad)).to_have_attribute("data-state", "empty")
    caption = pad.locator(".digitlib-pad-result .digitlib-pad-caption")
    expect(caption).to_have_text(re.compile(r"^nothing (drawn|written) yet$"))


def _final_answer(pad: Locator) -> Locator:
    """The answer once the pad has read the drawing with the pen lifted (readings while drawing are live)."""
    answer = _answer(pad)
    expect(answer).to_have_attribute("data-live", "false", timeout=ANSWER_SECONDS * 1000)
    return answer


def _draw_and_read(
    page: Page, pad: Locator, text: str, canvas_size: int | tuple[int, int] = 280, read_as: str | None = None
) -> None:
    """Draw ``text`` and wait for the pad to read it, surely, as ``read_as`` (default: what was drawn)."""
    _clear(pad)
    _draw(page, pad.locator(".digitlib-pad-canvas"), example_strokes(text, canvas_size))
    answer = _final_answer(pad)
    expect(answer).to_have_attribute("data-state", "confident", timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_have_text(read_as or text)


def _save_screenshot(target: Path, take) -> None:
    """Write a screenshot next to ``target`` and move it into place, so a failed run leaves the old picture."""
    target.parent.mkdir(exist_ok=True)
    partial = target.with_name(f".{target.name}.partial.png")
    take(str(partial))
    os.replace(partial, target)


def _saved_count(pad: Locator) -> Locator:
    return pad.locator(".digitlib-pad-saved")


def _drawings(server: Server) -> list:
    return list(PersonalDrawings(server.drawings_file)) if server.drawings_file.exists() else []


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("digit", ["3", "4"])  # a 7 in the undo test, a 2 by finger, a 1 and a 3 corrected
def test_pad_reads_a_digit_drawn_with_the_mouse(page: Page, server: Server, digit: str) -> None:
    pad = _digit_pad(page)
    _set_mode(pad, "digit")
    _draw_and_read(page, pad, digit)
    expect(pad.locator(".digitlib-pad-bars .digitlib-pad-top")).to_contain_text(digit)
    expect(pad.locator(".digitlib-pad-error")).to_be_hidden()
    if digit == "4" and server.front_end == "jupyterlab":
        # A picture of the pad for the README: the canvas, the answer and the controls (the correction row has
        # its own picture).
        top, controls = pad.bounding_box(), pad.locator(".digitlib-pad-controls").bounding_box()
        clip = {"x": top["x"], "y": top["y"], "width": top["width"], "height": controls["y"] + controls["height"]}
        clip["height"] -= top["y"]
        _save_screenshot(PAD_SCREENSHOT, lambda path: page.screenshot(path=path, clip=clip))


def test_undo_button_takes_back_the_last_stroke(page: Page) -> None:
    pad = _digit_pad(page)
    _set_mode(pad, "digit")
    _draw_and_read(page, pad, "7")
    pad.locator(".digitlib-pad-undo").click()
    expect(_answer(pad)).to_have_attribute("data-state", "empty")


def test_pad_reads_a_digit_drawn_with_a_finger(page: Page) -> None:
    pad = _digit_pad(page)
    _set_mode(pad, "digit")
    _clear(pad)
    strokes = [_densify(stroke) for stroke in example_strokes("2")]
    _draw_with_finger(page, pad.locator(".digitlib-pad-canvas"), strokes)
    answer = _final_answer(pad)
    expect(answer).to_have_attribute("data-state", "confident", timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_have_text("2")


def test_a_tap_is_nothing_to_read(page: Page) -> None:
    pad = _digit_pad(page)
    _set_mode(pad, "digit")
    _clear(pad)
    _draw(page, pad.locator(".digitlib-pad-canvas"), [[(200.0, 200.0)]])
    expect(_final_answer(pad)).to_have_text("nothing to read")
    expect(_answer(pad)).to_have_attribute("data-state", "empty")
    expect(pad.locator(".digitlib-pad-right")).to_be_disabled()  # and nothing to save


def test_the_mode_toggle_reads_a_number(page: Page) -> None:
    pad = _digit_pad(page)
    _set_mode(pad, "number")
    try:
        _draw_and_read(page, pad, "205")
        expect(pad.locator(".digitlib-pad-views figure")).to_have_count(3)
        # In number mode the correction row is a box holding the number read, to correct where wrong.
        expect(pad.locator(".digitlib-pad-number input")).to_have_value("205")
        expect(pad.locator(".digitlib-pad-right")).to_be_hidden()
    finally:
        _set_mode(pad, "digit")
    # Back in digit mode the pad reads the drawing again, which takes as long as any reading on a busy machine.
    expect(pad.locator(".digitlib-pad-right")).to_be_visible(timeout=ANSWER_SECONDS * 1000)


# -- corrections --------------------------------------------------------------------------------


def test_correcting_a_label_saves_the_drawing_with_that_label(page: Page, server: Server) -> None:
    """Draw a digit, correct its label with the pad's own button, from the keyboard, and find it in the file."""
    pad = _digit_pad(page)
    _set_mode(pad, "digit")
    before = len(_drawings(server))
    strokes = example_strokes("1")
    _draw_and_read(page, pad, "1")
    # Say it is a 7 (a continental 1): the button is found by its role and name, as a screen reader finds it.
    seven = pad.get_by_role("button", name="7", exact=True)
    expect(seven).to_have_attribute("title", "It's a 7: save this drawing as a 7")
    seven.focus()
    page.keyboard.press("Enter")
    expect(_saved_count(pad)).to_contain_text(f"1 saved · {before + 1} in my_digits.jsonl")
    expect(_answer(pad)).to_have_attribute("data-state", "empty")  # cleared for the next drawing
    expect(pad.locator(".digitlib-pad-error")).to_be_hidden()

    saved = _drawings(server)
    assert len(saved) == before + 1
    drawing = saved[-1].drawing
    assert saved[-1].label == 7 and drawing.canvas == (280, 280) and drawing.pen == 20.0
    # The strokes are those drawn: the mouse's path from each stroke's first point to its last.
    assert len(drawing.strokes) == len(strokes)
    for got, drawn in zip(drawing.strokes, strokes, strict=True):
        np.testing.assert_allclose(got[[0, -1]], np.array(drawn)[[0, -1]], atol=2.0)

    # The pad learnt from the correction at once: the same 1, drawn again, is read as the 7 it was saved as.
    _draw_and_read(page, pad, "1", read_as="7")
    expect(pad.locator(".digitlib-pad-learnt")).to_have_text(re.compile(r"^learnt: \d+ drawings? of yours$"))

    # The next drawing is read right: a picture of the correction row for the README, then "right" saves it.
    _draw_and_read(page, pad, "3")
    if server.front_end == "jupyterlab":
        _save_screenshot(CORRECT_SCREENSHOT, lambda path: pad.screenshot(path=path))
    right = pad.locator(".digitlib-pad-right")
    expect(right).to_have_attribute("title", "Right, it's a 3: save this drawing as a 3")
    right.click()
    expect(_saved_count(pad)).to_contain_text(f"2 saved · {before + 2} in my_digits.jsonl")
    assert [d.label for d in _drawings(server)[before:]] == [7, 3]


def test_number_pad_saves_each_digit_and_refuses_a_wrong_count(page: Page, server: Server) -> None:
    pad = _number_pad(page)
    before = len(_drawings(server))
    _draw_and_read(page, pad, "47", NUMBER_CANVAS)
    number = pad.locator(".digitlib-pad-number input")
    expect(number).to_have_value("47")
    number.fill("4")  # one digit typed for two drawn: a clear message, nothing saved
    pad.locator(".digitlib-pad-save").click()
    expect(pad.locator(".digitlib-pad-error")).to_contain_text("you typed 1 digit (4) but the pad found 2")
    assert len(_drawings(server)) == before
    number.fill("47")
    pad.locator(".digitlib-pad-save").click()
    expect(_saved_count(pad)).to_contain_text("2 saved")
    expect(pad.locator(".digitlib-pad-error")).to_be_hidden()
    assert [d.label for d in _drawings(server)[before:]] == [4, 7]


# -- the teaching notebook ----------------------------------------------------------------------


def test_notebook_07_shows_a_pad(browser: Browser, server: Server) -> None:
    """A light check that the teaching notebook runs and shows the pad (JupyterLab only: the pad itself is tested
    in both front ends above)."""
    if server.front_end != "jupyterlab":
        pytest.skip("notebook 07 is opened in JupyterLab only")
    # Up to the first pad only: nbval runs the whole notebook (make test), and the rest takes half a minute here.
    page = _open_and_run(browser, server.url(NOTEBOOK_07.name, workspace="notebook-07"), until=".digitlib-pad-canvas")
    try:
        _fail_on_cell_error(page)
        # Run All leaves the notebook at its end, and JupyterLab hides cells far out of view: go to the pad.
        assert page.evaluate(_SCROLL_TO_CELL_WITH, ".digitlib-pad"), "no cell of notebook 07 shows a pad"
        expect(page.locator(".digitlib-pad").first).to_be_visible()
        expect(page.locator(".digitlib-pad-canvas").first).to_be_visible()
    finally:
        # Stop its kernel, which would otherwise run the rest of the notebook while the next front end is tested.
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        page.close()
