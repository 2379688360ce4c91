"""Keep a long-running server's native heap from growing with every request.

Under load the demo's Python objects grew by a few KB per request (tracemalloc: Gradio's session
states, bounded by ``state_session_capacity``), but its RSS by ~130 KB per request, linearly, for
10 minutes (``bench/results/load_10min_glibc.json``). The rest was glibc: each thread that allocates gets
an arena of its own (up to 8 per core), Gradio and Starlette run requests on pools of up to 40
threads, and the audio and feature buffers freed there stay in up to 16 fragmented arenas (on 2
cores) that are never handed back. Two arenas and a periodic ``malloc_trim`` bound it: 10 minutes of
32 clients plateau at +161 MB where glibc's defaults climb past +544 MB (docs/reliability.md).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from ser_hf.heap import M_ARENA_MAX, glibc as _glibc

log = logging.getLogger(__name__)


def limit_native_heap(arenas: int = 2, trim_every: float = 10.0) -> bool:
    """Cap glibc's malloc arenas and return freed pages to the OS every ``trim_every`` seconds.

    Call it first thing, before the threads that serve requests exist: a thread keeps the arena it
    was given. ``MALLOC_ARENA_MAX`` in the environment wins over ``arenas``. Returns False (and does
    nothing) where the C library is not glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    if "MALLOC_ARENA_MAX" not in os.environ and arenas > 0:
        libc.mallopt(M_ARENA_MAX, int(arenas))
    if trim_every > 0:
        def trim() -> None:
            while not stop.wait(trim_every):
                libc.malloc_trim(0)

        stop = threading.Event()
        atexit.register(stop.set)  # no trimming while the interpreter shuts down
        threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
    log.info("native heap: %s malloc arenas, freed memory returned every %g s",
             os.environ.get("MALLOC_ARENA_MAX", arenas), trim_every)
    return True
