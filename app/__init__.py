"""tablescribe's people-facing side: CLI, GUI, pipeline, batch."""

from app.warmup import configure_numba_cache

# Before anything imports numba: its kernel cache must be writable (app/warmup.py).
configure_numba_cache()
