"""A job each worker runs on its own, every so often: sending e-mails, reconciling payments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("storefront")


class Periodic:
    """Runs `job` every `interval_s` until stopped; a job that reports work done runs again at once.
    A failing round is logged and the next one comes as usual."""

    def __init__(
        self, name: str, job: Callable[[], Awaitable[int | None]], interval_s: float, first_delay_s: float = 0.0
    ) -> None:
        self.name = name
        self.job = job
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                busy = await self.job()
            except Exception:
                logger.exception("%s: a round failed", self.name)
                busy = None
            if not busy:
                await asyncio.sleep(self.interval_s)
