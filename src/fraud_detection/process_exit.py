"""Ending a job's process with its exit status, past a native-teardown race.

Arrow's C++ thread pools (pandas reads and writes Parquet through them) can abort a process at
exit, after the job has done its work and printed its result: `terminate called without an
active exception`, status -6 instead of the job's own (apache/arrow#34314). The race is in the
C++ static destructors that run after the interpreter has finalized, so nothing in Python can
order it. `exit_with` does Python's own clean-up, in the order `Py_FinalizeEx` does it
(`threading._shutdown`: thread pools told to stop, then their threads joined; atexit handlers;
stdio flushed) and then leaves with `os._exit`, which skips those destructors: the status the
job returned is the status its caller sees. The two calls are CPython's private functions for
exactly these steps; the standard library offers no public ones.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_with(code: int) -> NoReturn:
    """Exit with `code` after the clean-up a normal interpreter exit does in Python."""
    # Not a join of each live thread: an idle thread-pool worker waits for work until the
    # pool's own exit hook (threading._register_atexit) tells it to stop, which this runs.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()  # logging.shutdown and libraries' handlers, as at a normal exit
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
