"""The owner of a node's background tasks: every task has a name, and all stop together.

As py-ipv8's ``TaskManager`` does, :class:`TaskOwner` starts each background
coroutine under a name (one task per name at a time), logs a task that
crashes, forgets a task once it is done, and at shutdown cancels every task it
still holds and waits until each has finished, so that nothing runs on after
the store and the HTTP session it uses are closed. Once closed it starts
nothing more. The node's app holds one and closes it first in its cleanup.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger("banscan.tasks")


class TaskNameTaken(RuntimeError):
    """A task of that name is still running."""


class TaskOwner:
    """Named background tasks; see the module docstring."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._closed = False

    def start(self, name: str, coro: Coroutine[Any, Any, object]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as the task ``name``; None (and ``coro`` closed unstarted) once this
        owner is closed. Raises :class:`TaskNameTaken` while a task of that name runs."""
        if self._closed:
            coro.close()
            log.warning("task not started: shutting down", task=name)
            return None
        if name in self._tasks:
            coro.close()
            raise TaskNameTaken(f"a task named {name!r} is already running")
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._finished)
        return task

    def running(self, name: str) -> bool:
        return name in self._tasks

    @property
    def names(self) -> list[str]:
        """The names of the tasks running now."""
        return sorted(self._tasks)

    def cancel(self, name: str) -> bool:
        """Ask the task ``name`` to stop; False when no such task runs."""
        task = self._tasks.get(name)
        if task is None:
            return False
        return task.cancel()

    async def close(self) -> None:
        """Start nothing more; cancel every task and wait until all have finished."""
        self._closed = True
        while self._tasks:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                self._forget(task)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._forget(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task crashed", task=task.get_name(), exc_info=exc)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(task.get_name()) is task:
            del self._tasks[task.get_name()]
