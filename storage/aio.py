"""The store for asyncio code: every call runs on one dedicated thread.

aiosqlite hops threads once per statement (~0.3 ms each); ingesting a batch of messages is
dozens of statements, so we hop once per *store method* instead, on a single thread that owns
the connection (SQLite connections must not be shared across threads concurrently).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

from storage.store import Store

P = ParamSpec("P")
T = TypeVar("T")


class AsyncStore:
    def __init__(self, factory: Callable[[], Store]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frontdesk-db")
        self._store: Store = self._executor.submit(factory).result()

    async def call(
        self, method: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`await astore.call(Store.ingest, batch)` runs `store.ingest(batch)` off the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(method, self._store, *args, **kwargs)
        )

    async def aclose(self) -> None:
        await self.call(Store.close)
        self._executor.shutdown(wait=True)
