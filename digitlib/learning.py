"""Learn my hand: `digitlib.personal.personalise` run in the background while the pad keeps reading.

    >>> job = Learning(rec, drawings, done=lambda mine: print(mine), step=print)
    >>> job.start()          # returns at once; ``done`` gets the personalised Recognizer when it is ready
    >>> job.cancel()         # or stop it: the recogniser in use stays as it was

One job runs at a time per `Learning`; its ``status`` says where it is. An error in the fine-tune is kept in
``error`` and given to ``failed``: the recogniser in use is never touched by the job, only replaced by the
caller (the pad) when ``done`` hands it the new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from digitlib.drawings_store import PersonalDrawings
from digitlib.personal import Cancelled, personalise
from digitlib.recognizer import Recognizer

Status = Literal["idle", "running", "done", "cancelled", "failed"]


class Learning:
    """A background `personalise` of ``rec`` on ``drawings`` (see the module docstring).

    ``step`` is told the share of the training done (0 to 1), ``progress`` each stage in words; ``done`` gets the
    new recogniser, ``failed`` the exception, ``cancelled`` nothing. All are called from the job's thread.
    """

    def __init__(
        self,
        rec: Recognizer,
        drawings: PersonalDrawings,
        done: Callable[[Recognizer], None],
        failed: Callable[[BaseException], None] | None = None,
        cancelled: Callable[[], None] | None = None,
        step: Callable[[float], None] | None = None,
        progress: Callable[[str], None] | None = None,
        seed: int = 0,
    ) -> None:
        self.rec, self.drawings, self.seed = rec, drawings, seed
        self._done, self._failed, self._cancelled = done, failed, cancelled
        self._step, self._progress = step, progress
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.status: Status = "idle"
        self.error: BaseException | None = None
        self.result: Recognizer | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    def start(self) -> None:
        """Start the fine-tune in a thread; `RuntimeError` if one is already running."""
        if self.running:
            raise RuntimeError("a personalise is already running; cancel it or wait for it to finish")
        self._cancel.clear()
        self.status, self.error, self.result = "running", None, None
        self._thread = threading.Thread(target=self._run, name="digitlib-learn-my-hand", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the running fine-tune to stop at its next batch (nothing happens when none runs)."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> Status:
        """Wait for the job (at most ``timeout`` seconds); return its status."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    def _run(self) -> None:
        try:
            mine = personalise(
                self.rec, self.drawings, seed=self.seed, progress=self._progress, step=self._step, cancel=self._cancel
            )
            self._done(mine)  # before the status says done: whoever waits for it finds the new model in use
        except Cancelled:
            self.status = "cancelled"
            if self._cancelled is not None:
                self._cancelled()
            return
        except Exception as error:  # noqa: BLE001 - the pad shows it; the old recogniser keeps working
            self.status, self.error = "failed", error
            if self._failed is not None:
                self._failed(error)
            return
        self.status, self.result = "done", mine
