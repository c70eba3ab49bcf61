"""Ports for tests that must name a port before a server binds it.

Prefer port 0 (``aiohttp_server``, ``banscan run --port 0``) wherever the server
can report the port it got; these are for nodes whose URL other nodes must know
in advance, or that keep their URL across restarts.
"""

import random
import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port free on 127.0.0.1 right now; the caller binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def port_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free ports, below Linux's ephemeral range
    (32768 and up), so that no port-0 server of a test running beside takes one."""
    for _ in range(100):
        base = random.randrange(20_000, 32_000)
        if all(port_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")
