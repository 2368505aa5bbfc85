"""A job for tests/test_cpu_slots.py: sleep and record when it ran (importable by worker processes)."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def timed_sleep(folder: str, seconds: float) -> None:
    """Sleep ``seconds`` [s]; write ``<start> <end>`` [s since epoch] to a file of ``folder``."""
    start = time.time()
    time.sleep(seconds)
    (Path(folder) / f"{os.getpid()}-{uuid.uuid4().hex}").write_text(f"{start} {time.time()}")
