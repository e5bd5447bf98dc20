"""Faults for the Ray tests, installed in every Ray worker (``worker_process_setup_hook``).

The library has no test hooks: this module wraps :func:`fakereview_nlp.jobs.ray.score_chunk`
inside each worker, as ``monkeypatch`` would in-process. What to do comes from
:data:`FAULT_ENV`, set in the test's ``runtime_env``:

* ``delay:SECONDS``: sleep before every chunk (time to kill a job midway);
* ``crash-once:PATH``: the first replica to score a chunk while PATH exists claims it by a
  rename and exits hard, as a killed node would.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

FAULT_ENV = "FAKEREVIEW_TEST_RAY_FAULT"
#: The value of ``worker_process_setup_hook`` (the tests folder is on the workers' PYTHONPATH).
SETUP_HOOK = "ray_faults.install"


def install() -> None:
    fault = os.environ.get(FAULT_ENV, "")
    if not fault:
        return
    from fakereview_nlp.jobs import ray as engine

    real = engine.score_chunk
    kind, _, arg = fault.partition(":")

    def faulty(*args: Any, **kwargs: Any) -> Any:
        if kind == "delay":
            time.sleep(float(arg))
        elif kind == "crash-once" and arg:
            with contextlib.suppress(OSError):
                os.rename(arg, f"{arg}.claimed.{os.getpid()}")  # only one replica wins the rename
                os._exit(1)
        return real(*args, **kwargs)

    engine.score_chunk = faulty
