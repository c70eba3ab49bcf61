"""Why a node cannot listen where it was asked to, in words an operator can act on.

Apart from :mod:`node.serve` so that the command line can catch :class:`ServeError`
without importing the web server (every ``banscan`` command would pay for it).
"""

import errno


class ServeError(Exception):
    """The node cannot listen where it was asked to; the message says what to do."""


def listen_error(host: str, port: int, exc: OSError) -> ServeError:
    """What to tell the operator when binding ``host``:``port`` failed with ``exc``."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ServeError(
            f"cannot listen on {where}: the port is in use (another banscan node or another "
            "program has it). Stop that program, or give this node another port: "
            "banscan run --port 9000 (or --port 0 for any free one); [node] port in "
            "banscan.toml sets it for good"
        )
    if exc.errno == errno.EACCES:
        return ServeError(
            f"cannot listen on {where}: permission denied (ports below 1024 need privileges). "
            "Give a port from 1024 up: banscan run --port 8470, and put a TLS proxy in "
            "front for port 443 (docs/operators.md)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ServeError(
            f"cannot listen on {where}: this machine has no address {host}. Give one it has "
            "with --host (127.0.0.1 for this machine only), or fix [node] host in banscan.toml"
        )
    return ServeError(f"cannot listen on {where}: {exc.strerror or exc}")
