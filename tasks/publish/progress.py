"""Progress of a long run: a Prefect progress artifact, and listeners (the CLI's progress bar).

A flow creates one :class:`RunProgress` per fan-out with the number of steps (windows) it will
store and calls :meth:`RunProgress.advance` as each is stored or fails, so the artifact reaches
100 % when the run has dealt with every window. The CLI, which runs flows in-process, registers a
listener with :func:`watch_progress` and draws the same progress as a rich bar.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable

#: Callables ``(done, total, description)`` told of every step in this process.
_LISTENERS: list[Callable[[int, int, str], None]] = []


@contextmanager
def watch_progress(listener: Callable[[int, int, str], None]):
    """Call ``listener(done, total, description)`` on every step of runs in this process."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def progress_percent(done: int, total: int) -> float:
    """``done`` of ``total`` steps as a percentage [%]; an empty run is complete (100)."""
    if total < 0 or done < 0:
        raise ValueError(f"done and total must be >= 0, not done={done}, total={total}")
    return 100.0 if total == 0 else min(100.0, 100.0 * done / total)


class RunProgress:
    """Steps done of ``total`` [count], shown as a progress artifact of the current flow run.

    Parameters
    ----------
    total : int
        Steps the run will take [count].
    description : str
        What the steps are (shown with the artifact and the CLI's bar).
    """

    def __init__(self, total: int, description: str):
        if total < 0:
            raise ValueError(f"total must be >= 0, not {total}")
        self.total, self.description, self.done = total, description, 0
        self._lock = threading.Lock()
        self._artifact_id = _create(description)
        self._tell()

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more steps done and publish the new percentage."""
        with self._lock:
            self.done = min(self.total, self.done + steps)
            if self._artifact_id is not None:
                _update(self._artifact_id, progress_percent(self.done, self.total))
            self._tell()

    def _tell(self) -> None:
        for listener in list(_LISTENERS):
            listener(self.done, self.total, self.description)


def _create(description: str):
    from prefect.artifacts import create_progress_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:     # library use outside a flow: listeners only
        return None
    return create_progress_artifact(progress=0.0, key="thermaliq-progress", description=description)


def _update(artifact_id, percent: float) -> None:
    from prefect.artifacts import update_progress_artifact

    update_progress_artifact(artifact_id=artifact_id, progress=percent)
