"""Urgent documents first, end to end (R-4.2c). The bus gives them their own lane; inside
intake, a normal document does not start while an urgent one is being handled, so the urgent
one never waits behind the normal backlog for the verifier (one validation at a time)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from shared.clock import utcnow
from shared.service import ServiceContext


class UrgentFirst:
    def __init__(self) -> None:
        self._urgent_active = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @asynccontextmanager
    async def turn(self, urgent: bool):
        """Yields the moment the document's turn began (kept as `intake_started_at`)."""
        if urgent:
            self._urgent_active += 1
            self._clear.clear()
            try:
                yield utcnow()
            finally:
                self._urgent_active -= 1
                if self._urgent_active == 0:
                    self._clear.set()
        else:
            await self._clear.wait()
            yield utcnow()


def urgent_first(ctx: ServiceContext) -> UrgentFirst:
    return ctx.extras.setdefault("urgent_first", UrgentFirst())
