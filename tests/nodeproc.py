"""Real node processes for tests: started through the CLI, stopped with a signal."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVING = re.compile(r"banscan: serving (http://\S+)")


ROOT = Path(__file__).resolve().parent.parent


def banscan(
    *args: str,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the ``banscan`` CLI in a child process and capture its output.

    With ``cwd`` (a command run as a person would, from their own directory) the
    child still imports this checkout's code, not whatever else is installed."""
    child_env = {**os.environ, **(env or {})}
    if cwd is not None:
        child_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, (str(ROOT), child_env.get("PYTHONPATH")))
        )
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        cwd=cwd,
        check=False,
    )


class NodeProcess:
    """``banscan run`` in a child process; ``url`` is known once it serves.

    ``port`` 0 (the default) lets the node pick a free port; a fixed port lets a
    test put the node's URL in other nodes' config before it starts, and keep it
    across restarts.
    """

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        *,
        port: int = 0,
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.url = ""
        self.stderr_lines: list[str] = []
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "node.cli",
                "run",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            # ``-m`` puts the working directory first on the path: a benchmark runs
            # another checkout's code (before a change) from there.
            cwd=cwd,
        )
        self._url_ready = threading.Event()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            match = SERVING.search(line)
            if match:
                self.url = match.group(1)
                self._url_ready.set()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self.stderr_lines.append(line)

    def wait_serving(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while not self._url_ready.wait(0.05):
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"node exited with {self._proc.returncode}: "
                    f"{''.join(self.stderr_lines)[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError("node did not start serving in time")
        return self.url

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
        return self._proc.wait(timeout)

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(30)

    def close(self) -> None:
        """Make sure the process is gone, then close its pipes once the readers are done."""
        self.kill()  # a no-op when it already exited
        for reader in self._readers:
            reader.join(30)
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def running_node(
    data_dir: Path, env: dict[str, str] | None = None, *, port: int = 0
) -> Iterator[NodeProcess]:
    """A serving node process; killed on the way out unless the test stopped it."""
    node = NodeProcess(data_dir, env, port=port)
    try:
        node.wait_serving()
        yield node
    finally:
        node.close()
