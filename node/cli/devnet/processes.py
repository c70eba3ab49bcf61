"""The dev network's nodes as child processes: started, watched, and stopped."""

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from node.cli.devnet.nodes import HOST, START_TIMEOUT_S, STOP_TIMEOUT_S, DevNetworkError, DevNode
from node.config import ENV_PREFIX


def start(node: DevNode) -> None:
    # The nodes' settings are their configs: the caller's BANSCAN_* variables stay out.
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    with node.log_file.open("ab") as log:
        # Our own interpreter running our own CLI, with arguments we built.
        node.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "node.cli",
                "run",
                "--data-dir",
                str(node.data_dir.path),
                "--host",
                HOST,
                "--port",
                str(node.port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
        )


def wait_serving(node: DevNode, stop: threading.Event) -> bool:
    """Wait until ``node`` serves; False if asked to stop meanwhile."""
    assert node.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while node.data_dir.running_url() is None:
        if node.process.poll() is not None:
            raise DevNetworkError(
                f"{node.name} (port {node.port}) exited with status {node.process.returncode}:"
                f"\n{_log_tail(node)}"
            )
        if time.monotonic() > deadline:
            raise DevNetworkError(f"{node.name} did not start in {START_TIMEOUT_S:.0f} s")
        if stop.wait(0.05):
            return False
    return True


def watch(nodes: list[DevNode], stop: threading.Event) -> int:
    """Until a signal: a node that stops on its own ends the network."""
    while not stop.wait(0.2):
        for node in nodes:
            assert node.process is not None
            status = node.process.poll()
            if status is None:
                continue
            if status == 0:  # stopped by a signal of its own (Ctrl-C reaches every node)
                return 0
            raise DevNetworkError(
                f"{node.name} exited with status {status}; stopping the others:\n{_log_tail(node)}"
            )
    return 0


def stop_all(nodes: list[DevNode]) -> None:
    running = [n for n in nodes if n.process is not None and n.process.poll() is None]
    for node in running:
        assert node.process is not None
        with contextlib.suppress(ProcessLookupError):
            node.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for node in running:
        assert node.process is not None
        try:
            node.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


@contextlib.contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _log_tail(node: DevNode, lines: int = 10) -> str:
    try:
        with node.log_file.open(encoding="utf-8", errors="replace") as log:
            return "".join(collections.deque(log, maxlen=lines)).rstrip()
    except OSError:
        return "(no log)"
