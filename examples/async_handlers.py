"""Async ``@on_change`` handlers and ``watch()`` callbacks inside an asyncio application.

An ``async def`` handler runs on the event loop that was running when it was registered:
create the settings object inside the loop, and the reload thread hands each ``Diff`` over with
``asyncio.run_coroutine_threadsafe``.
Run it from anywhere: ``python examples/async_handlers.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change

ROOT = Path(tempfile.mkdtemp(prefix="livesettings-async-"))
CONFIG = ROOT / "worker.yaml"


class Queue(BaseModel):
    workers: int = 2
    batch_size: int = 100


class WorkerSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file=str(CONFIG))
    reload_config = ReloadConfig(debounce_ms=50)

    queue: Queue = Queue()

    @on_change("queue.workers")
    async def _resize_pool(self, diff: Diff) -> None:
        print(f"  @on_change async handler on thread {threading.current_thread().name!r}: "
              f"workers {diff.old_value} -> {diff.new_value}")
        await asyncio.sleep(0.01)  # e.g. drain and restart workers
        pool.resized.set()


class Pool:
    """Stands in for an asyncio worker pool; its event is set by the handler."""

    def __init__(self) -> None:
        self.resized = asyncio.Event()


pool: Pool


async def main() -> int:
    global pool
    pool = Pool()
    CONFIG.write_text("queue:\n  workers: 2\n  batch_size: 100\n")
    with WorkerSettings() as settings:  # created inside the loop: async handlers run on this loop
        print(f"queue.workers = {settings.queue.workers}, queue.batch_size = {settings.queue.batch_size}")

        batch_sizes: list[int] = []
        batch_seen = asyncio.Event()

        async def on_batch_size(diff: Diff) -> None:
            batch_sizes.append(diff.new_value)
            batch_seen.set()

        handle = settings.watch("queue.batch_size", on_batch_size)

        print("edit worker.yaml: workers 2 -> 8, batch_size 100 -> 500")
        CONFIG.write_text("queue:\n  workers: 8\n  batch_size: 500\n")
        try:
            await asyncio.wait_for(asyncio.gather(pool.resized.wait(), batch_seen.wait()), timeout=10)
        except asyncio.TimeoutError:
            print("the change was not picked up within 10 s", file=sys.stderr)
            return 1
        print(f"  watch('queue.batch_size') callback saw {batch_sizes}")
        print(f"queue.workers = {settings.queue.workers}, queue.batch_size = {settings.queue.batch_size}")
        handle.cancel()
    return 0


if __name__ == "__main__":
    try:
        code = asyncio.run(main())
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
    sys.exit(code)
