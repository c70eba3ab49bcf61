"""The deployment files in ``deploy/``, checked as far as this machine can.

Docker is not run here, so the image and the compose file are checked
statically: the compose file parses and everything it names exists, the
Dockerfile passes hadolint and has what a node needs. ``deploy/compose-init.sh``
is run for real, with the local ``banscan`` on temporary directories, and the
network it sets up is started and must converge. The systemd unit passes
``systemd-analyze verify`` and its security score is checked; the node is run
with writable-and-executable memory refused, as ``MemoryDenyWriteExecute=yes``
does. The proxy configurations are read for what the node relies on and,
when ``caddy`` and ``nginx`` are installed (``.ci/run`` installs them with apt
when it can), run in front of a stand-in upstream that records what reaches
it. Each check that needs a missing tool skips and names the tool.
"""

import http.server
import json
import os
import re
import shutil
import sqlite3
import ssl
import subprocess
import sys
import textwrap
import threading
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.factories import incident_body
from tests.nodeproc import banscan
from tests.polling import eventually
from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
INIT_SCRIPT = DEPLOY / "compose-init.sh"
UNIT = DEPLOY / "systemd" / "banscan.service"
CADDYFILE = DEPLOY / "Caddyfile"
NGINX_CONF = DEPLOY / "nginx.conf"
IMAGE = "banscan:local"
# The node refuses request bodies more than 64 KiB over its 4 MiB batch limit;
# a proxy must let those through so the node can answer with its own 413.
NODE_BODY_CEILING = 4 * 1024 * 1024 + 64 * 1024
# Tests that run compose-init.sh (whose fixture counts against the first test's
# timeout) or start nodes: every banscan command starts Python, which takes
# seconds on a loaded machine.
SLOW_SETUP = pytest.mark.timeout(900)
SYSTEMD_HOW = "apt-get install systemd; .ci/run does when it runs as root"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def packages() -> list[str]:
    """The top-level packages pyproject.toml installs, which the image must contain."""
    found = tomllib.loads(_read(REPO / "pyproject.toml"))["tool"]["setuptools"]["packages"]
    patterns: list[str] = found["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in patterns})


def compose() -> dict[str, Any]:
    document = yaml.safe_load(_read(COMPOSE))
    assert isinstance(document, dict)
    return document


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def node_services() -> dict[str, dict[str, Any]]:
    """The services that run a node: the image, and not the one-shot init."""
    return {
        name: service
        for name, service in services().items()
        if service.get("image") == IMAGE and name != "init"
    }


def init_nodes() -> list[list[str]]:
    """The init service's NODES table: dir, role, peer_url, public_url, name, city, country."""
    # Compose fills in ${VAR:-default}; here, the defaults.
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", services()["init"]["environment"]["NODES"])
    return [
        line.split("|")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def tool(name: str, how: str = "pip install -e '.[test]' installs it") -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({how})")
    return found


# ---- compose.yaml --------------------------------------------------------------------------


def test_compose_has_a_steward_three_chapters_init_and_caddy() -> None:
    assert set(services()) == {"init", "steward", "chapter-a", "chapter-b", "chapter-c", "caddy"}
    roles = {row[0]: row[1] for row in init_nodes()}
    assert roles == {
        "steward": "steward",
        "chapter-a": "chapter",
        "chapter-b": "chapter",
        "chapter-c": "chapter",
    }
    assert init_nodes()[0][0] == "steward", "compose-init.sh needs the steward first"
    assert all(len(row) == 7 for row in init_nodes())


def _bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_every_file_compose_refers_to_exists() -> None:
    checked = 0
    for name, service in services().items():
        build = service.get("build")
        if build is not None:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']}"
            # BuildKit's per-Dockerfile ignore file, which keeps the context small.
            assert (context / (build["dockerfile"] + ".dockerignore")).is_file()
            checked += 1
        for env_file in service.get("env_file", []):
            assert (DEPLOY / env_file).is_file(), f"{name}: env_file {env_file}"
            checked += 1
        for source in _bind_sources(service):
            assert (DEPLOY / source).exists(), f"{name}: bind mount {source}"
            checked += 1
    assert checked >= 8
    # The init script and the Caddyfile are mounted, not baked in.
    mounted = {Path(s).name for service in services().values() for s in _bind_sources(service)}
    assert {"compose-init.sh", "Caddyfile"} <= mounted


def test_env_files_hold_only_banscan_settings_the_node_knows() -> None:
    """The node refuses unknown BANSCAN_ variables, so a typo here would stop every node."""
    known = set(re.findall(r"`(BANSCAN_[A-Z0-9_]+)`", _read(REPO / "docs" / "configuration.md")))
    for service in services().values():
        for env_file in service.get("env_file", []):
            for line in _read(DEPLOY / env_file).splitlines():
                if line.strip() and not line.startswith("#"):
                    name = line.split("=", 1)[0]
                    assert name in known, f"{env_file}: {name} is not a banscan setting"


def test_nodes_wait_for_init_to_complete() -> None:
    nodes = node_services()
    assert set(nodes) == {"steward", "chapter-a", "chapter-b", "chapter-c"}
    for name, service in services().items():
        depends = service.get("depends_on", {})
        if name in nodes:
            assert depends["init"] == {"condition": "service_completed_successfully"}, name
        elif "init" in depends:
            assert depends["init"]["condition"] == "service_completed_successfully", name
    init = services()["init"]
    assert init["restart"] == "no"
    assert init["entrypoint"][-1].endswith("compose-init.sh")


def test_long_running_services_restart_and_have_healthchecks() -> None:
    for name, service in services().items():
        if name == "init":
            continue
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert not check.get("disable"), name
        assert check["test"][0] == "CMD", name
    for name, service in node_services().items():
        assert any("/healthz" in part for part in service["healthcheck"]["test"]), name
        # More than the node's own 30 s shutdown grace.
        assert int(service["stop_grace_period"].removesuffix("s")) > 30, name


def test_caddy_fronts_the_steward_only() -> None:
    caddy = services()["caddy"]
    assert caddy["image"] == "caddy:2"
    assert caddy["depends_on"]["steward"]["condition"] == "service_healthy"
    assert caddy["environment"]["NODE_UPSTREAM"] == "steward:8470"
    assert any(v.endswith(":/etc/caddy/Caddyfile:ro") for v in caddy["volumes"])
    published = {name for name, service in services().items() if service.get("ports")}
    assert published == {"caddy"}, "only the proxy publishes ports"
    networks = compose()["networks"]
    assert networks["federation"]["internal"] is True
    for name in ("chapter-a", "chapter-b", "chapter-c"):
        assert services()[name]["networks"] == ["federation"]


def test_init_table_matches_the_services_and_volumes() -> None:
    init = services()["init"]
    for directory, _role, peer_url, _public, _name, _city, country in init_nodes():
        # The init service mounts the node's volume at /nodes/<dir>, the node at /data.
        volume = f"{directory}-data"
        assert f"{volume}:/nodes/{directory}" in init["volumes"]
        assert services()[directory]["volumes"] == [f"{volume}:/data"]
        assert peer_url == f"http://{directory}:8470", "peers reach a node by its service name"
        assert country == "" or re.fullmatch(r"[A-Z]{2}", country)
    assert init["environment"]["NODES_ROOT"] == "/nodes"


# ---- Dockerfile ----------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", _read(DOCKERFILE))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_on_slim_python_311() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm$", _read(DOCKERFILE), re.M)
    builder, final = dockerfile_stages()
    assert builder[0] == ("FROM", "${PYTHON_IMAGE} AS builder")
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")
    final_text = " ".join(arguments for _, arguments in final)
    for build_tool in ("apt-get", "gcc", "build-essential"):
        assert build_tool not in final_text
    runs = [arguments for instruction, arguments in final if instruction == "RUN"]
    assert all("--no-cache-dir" in run for run in runs if "pip install" in run)
    assert any("from=builder" in run for run in runs), "wheels come from the builder stage"


def test_dockerfile_runs_the_node_as_non_root_with_a_volume_and_healthcheck() -> None:
    final = dict(dockerfile_stages()[-1])
    user = final["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert int(user) == 10001
    assert re.search(r"useradd .*--uid 10001", final["RUN"])
    assert json.loads(final["VOLUME"]) == ["/data"]
    assert "BANSCAN_DATA_DIR=/data" in final["ENV"]
    assert final["EXPOSE"] == "8470"
    healthcheck = final["HEALTHCHECK"]
    assert "CMD" in healthcheck
    assert "/healthz" in healthcheck
    assert "curl" not in healthcheck, "slim images have no curl"
    assert "wget" not in healthcheck, "slim images have no wget"
    assert json.loads(final["ENTRYPOINT"]) == ["banscan"]
    assert json.loads(final["CMD"]) == ["run", "--host", "0.0.0.0"]


@SLOW_SETUP
def test_dockerfile_healthcheck_command_runs_against_a_node(tmp_path: Path) -> None:
    """The HEALTHCHECK's own Python exits 0 on a serving node and non-zero without one."""
    exec_form = re.search(r"CMD (\[.*\])", dict(dockerfile_stages()[-1])["HEALTHCHECK"])
    assert exec_form is not None, "HEALTHCHECK CMD in exec form"
    command = json.loads(exec_form[1])
    assert command[:2] == ["python", "-c"]
    port = free_port()
    env = {**os.environ, "BANSCAN_NODE_PORT": str(port)}
    down = subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True)
    assert down.returncode != 0
    assert banscan("init", "--data-dir", str(tmp_path / "n")).returncode == 0
    with node_running(tmp_path / "n", port):
        up = subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True)
    assert up.returncode == 0, up.stderr


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in _read(DEPLOY / "Dockerfile.dockerignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: nothing gets in unless named"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        source.rstrip("/")
        for instruction, arguments in dockerfile_stages()[0]
        if instruction == "COPY"
        for source in arguments.split()[:-1]
    }
    assert copied == allowed
    assert set(packages()) <= copied, "every package pyproject.toml installs is copied"
    for source in copied:
        assert (REPO / source).exists(), source
    assert {"**/*.key", "**/*.db"} <= set(lines)


# ---- systemd -------------------------------------------------------------------------------


def unit_directives() -> dict[str, list[str]]:
    """'Section.Key' -> every value given (keys such as SystemCallFilter repeat)."""
    directives: dict[str, list[str]] = {}
    section = ""
    for line in _read(UNIT).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        directives.setdefault(f"{section}.{key}", []).append(value)
    return directives


def test_systemd_unit_has_the_required_directives() -> None:
    service = {
        key.removeprefix("Service."): values[-1]
        for key, values in unit_directives().items()
        if key.startswith("Service.")
    }
    required = {
        "User": "banscan",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/banscan",
        "StateDirectory": "banscan",
        "Restart": "on-failure",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "KillSignal": "SIGTERM",
        "ExecStart": "/usr/local/bin/banscan run --data-dir /var/lib/banscan",
    }
    for key, value in required.items():
        assert service.get(key) == value, key
    assert unit_directives()["Service.ReadWritePaths"] == ["/var/lib/banscan"], "nothing else"
    # Longer than the node's 30 s shutdown grace, so SIGKILL never cuts a request.
    assert int(service["TimeoutStopSec"]) > 30
    assert unit_directives()["Install.WantedBy"] == ["multi-user.target"]


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here.

    ``systemd-analyze verify`` refuses a unit whose ExecStart is not an
    executable file, and /usr/local/bin/banscan exists only once installed."""
    text = _read(UNIT).replace("/usr/local/bin/banscan", str(Path(sys.executable).resolve()))
    path = tmp_path / "banscan.service"
    path.write_text(text, encoding="utf-8")
    return path


def test_systemd_unit_verifies(verifiable_unit: Path) -> None:
    analyze = tool("systemd-analyze", SYSTEMD_HOW)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(verifiable_unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    # verify only warns about a value it cannot parse ("..., ignoring"): any output fails.
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr


def test_systemd_unit_is_well_confined(verifiable_unit: Path) -> None:
    analyze = tool("systemd-analyze", SYSTEMD_HOW)
    result = subprocess.run(
        [
            analyze,
            "security",
            "--offline=yes",
            "--threshold=20",
            "--no-pager",
            str(verifiable_unit),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if "--offline" in result.stderr or "unrecognized option" in result.stderr:
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()}")
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert score is not None, result.stdout + result.stderr
    # 0 is fully confined, 10 not at all; systemd calls up to 2.0 "OK".
    assert float(score[1]) <= 2.0, result.stdout
    assert result.returncode == 0, result.stdout


MDWE_EXEC = textwrap.dedent(
    """
    import ctypes, os, sys
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0):
        sys.exit(77)
    os.execv(sys.argv[1], sys.argv[1:])
    """
)


def memory_deny_write_execute() -> list[str]:
    """A command prefix that refuses writable-and-executable memory, as the unit does.

    systemd's MemoryDenyWriteExecute=yes and Linux's PR_SET_MDWE (6.3 and
    later, kept across execve) refuse the same mappings; empty when the
    kernel cannot do it."""
    prefix = [sys.executable, "-c", MDWE_EXEC]
    probe = subprocess.run(
        [
            *prefix,
            sys.executable,
            "-c",
            "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)",
        ],
        capture_output=True,
        check=False,
    )
    return prefix if probe.returncode not in (0, 77) else []


def test_memory_deny_write_execute_can_be_tried_here() -> None:
    """The convergence test below runs its nodes so; say so when it cannot."""
    if not memory_deny_write_execute():
        pytest.skip(
            "the kernel has no PR_SET_MDWE (Linux 6.3+): the nodes run without "
            "MemoryDenyWriteExecute, which stays untested here"
        )


# ---- compose-init.sh -----------------------------------------------------------------------


def test_init_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", str(INIT_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_init_script_passes_shellcheck() -> None:
    shellcheck = tool("shellcheck")
    result = subprocess.run(
        [shellcheck, "--severity=style", str(INIT_SCRIPT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def run_init(root: Path, nodes: str) -> subprocess.CompletedProcess[str]:
    """deploy/compose-init.sh with a ``banscan`` on PATH that runs this checkout."""
    bin_dir = root / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir(parents=True)
        wrapper = bin_dir / "banscan"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m node.cli "$@"\n')
        wrapper.chmod(0o755)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BANSCAN_")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "NODES_ROOT": str(root / "nodes"),
        "NETWORK_ID": "deploy-test",
        "NODE_UID": f"{os.getuid()}:{os.getgid()}",
        "NODES": nodes,
    }
    return subprocess.run(
        ["bash", str(INIT_SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def cli_json(*args: str) -> Any:
    result = banscan(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


EXPECTED_ROLES = {"chapter-a": "chapter", "chapter-b": "chapter", "coord": "coordinator"}


def nodes_table(ports: dict[str, int]) -> str:
    """The compose file's table, with the peers on 127.0.0.1 and a coordinator added."""
    rows = [
        (directory, role, f"http://127.0.0.1:{ports[directory]}", public, name, city, country)
        # The steward and two chapters are enough.
        for directory, role, _peer, public, name, city, country in init_nodes()[:3]
    ]
    rows.append(("coord", "coordinator", f"http://127.0.0.1:{ports['coord']}", "", "", "", ""))
    return "# a comment line\n" + "\n".join("|".join(row) for row in rows) + "\n"


@dataclass(frozen=True)
class InitRun:
    """compose-init.sh run twice on one set of temporary directories."""

    nodes: Path
    table: str
    ports: dict[str, int]
    keys: dict[str, str]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    changed_by_second: list[Path]


@pytest.fixture(scope="module")
def init_run(tmp_path_factory: pytest.TempPathFactory) -> InitRun:
    """Shared by the tests below: each banscan command starts Python, slow on a busy host."""
    root = tmp_path_factory.mktemp("compose-init")
    ports = {name: free_port() for name in ("steward", "chapter-a", "chapter-b", "coord")}
    table = nodes_table(ports)
    first = run_init(root, table)
    assert first.returncode == 0, first.stderr
    nodes = root / "nodes"
    before = {p: p.stat().st_mtime_ns for p in nodes.rglob("*")}
    # A second run, as every `docker compose up` does.
    second = run_init(root, table)
    changed = [p for p in nodes.rglob("*") if before.get(p) != p.stat().st_mtime_ns]
    # The script logs "<dir>: <role> <key> at <url>" for each node.
    keys = dict(re.findall(r"compose-init: (\S+): \w+ (ed25519:\S+) at ", first.stderr))
    return InitRun(nodes, table, ports, keys, first, second, changed)


@SLOW_SETUP
def test_init_script_creates_and_describes_the_nodes(init_run: InitRun) -> None:
    nodes, keys = init_run.nodes, init_run.keys
    assert set(keys) == set(init_run.ports)
    # Every node is on the network; everyone but the steward trusts the steward.
    for name in init_run.ports:
        config = tomllib.loads(_read(nodes / name / "banscan.toml"))
        assert config["network"]["id"] == "deploy-test"
        stewards = [] if name == "steward" else [keys["steward"]]
        assert config["network"]["stewards"] == stewards, name
        row = next(r for r in init_run.table.splitlines() if r.startswith(f"{name}|")).split("|")
        assert config["node"]["urls"] == [row[3] or row[2]], name
        assert (config["node"]["name"], config["node"]["city"]) == (row[4], row[5]), name
        assert config["node"]["country"] == row[6]
        assert (nodes / name / "node.key").stat().st_mode & 0o077 == 0
    assert tomllib.loads(_read(nodes / "steward" / "banscan.toml"))["node"]["urls"] == [
        "https://localhost"
    ], "the steward publishes its public (proxy) URL"


@SLOW_SETUP
def test_init_script_admits_the_nodes_on_the_steward(init_run: InitRun) -> None:
    keys = init_run.keys
    listed = cli_json("members", "list", "--data-dir", str(init_run.nodes / "steward"))
    members = {m["key"]: m for m in listed["members"]}
    assert members[keys["steward"]]["state"] == "steward"
    for name, role in EXPECTED_ROLES.items():
        assert members[keys[name]]["state"] == "admitted", name
        assert members[keys[name]]["role"] == role, name
    assert members[keys["chapter-a"]]["name"] == "Ban the Scan London"
    assert members[keys["chapter-a"]]["country"] == "GB"
    assert members[keys["coord"]]["name"] == "coord", "a node without a name is admitted by its dir"


@SLOW_SETUP
def test_init_script_wires_the_peers(init_run: InitRun) -> None:
    """The steward with everyone, everyone with the steward (the rest is discovery)."""
    keys, ports = init_run.keys, init_run.ports

    def configured(name: str) -> dict[str, str]:
        peers = cli_json("peers", "list", "--data-dir", str(init_run.nodes / name))
        # Peers the running network discovered later are not the script's.
        return {p["key"]: p["url"] for p in peers if p["source"] == "cli"}

    assert configured("steward") == {
        keys[n]: f"http://127.0.0.1:{ports[n]}" for n in EXPECTED_ROLES
    }
    for name in EXPECTED_ROLES:
        assert configured(name) == {keys["steward"]: f"http://127.0.0.1:{ports['steward']}"}


@SLOW_SETUP
def test_init_script_does_nothing_the_second_time(init_run: InitRun) -> None:
    assert init_run.second.returncode == 0, init_run.second.stderr
    assert "nothing to do" in init_run.second.stderr
    assert init_run.changed_by_second == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("", "set NODES to one line per node"),
        ("# only a comment\n", "NODES lists no node"),
        ("a|chapter|http://127.0.0.1:1||||", "first node in NODES must be the steward"),
        ("s|steward|http://x||||\nt|steward|http://y||||", "only one steward"),
        ("s|steward|ftp://x||||", "peer_url must be an http(s) URL"),
        ("s|boss|http://x||||", "role must be steward, chapter or coordinator"),
        ("../s|steward|http://x||||", "is not [a-z0-9._-]"),
        ("s|steward|http://x|||||extra", "more than 7 fields"),
    ],
)
def test_init_script_refuses_a_bad_table(tmp_path: Path, table: str, message: str) -> None:
    result = run_init(tmp_path, table)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "nodes").exists(), "nothing is created before the table is checked"


@contextmanager
def node_running(data_dir: Path, port: int, prefix: list[str] | None = None) -> Iterator[None]:
    """``banscan run`` on 127.0.0.1:port until /healthz answers; SIGTERM on the way out."""
    log = (data_dir.parent / f"{data_dir.name}.log").open("w")
    process = subprocess.Popen(
        [
            *(prefix or []),
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
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BANSCAN_FEDERATION_SYNC_INTERVAL_S": "1"},
    )

    def healthy() -> bool:
        assert process.poll() is None, _read(Path(log.name))[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    try:
        eventually(healthy, "the node answers /healthz", within_s=120, poll=0.1)
        yield
        process.terminate()
        assert process.wait(30) == 0, _read(Path(log.name))[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        log.close()


@pytest.mark.slow
@SLOW_SETUP
def test_the_network_init_sets_up_converges(init_run: InitRun) -> None:
    """Started as the compose file starts them, the nodes replicate a chapter's record.

    A network record published on chapter-a reaches the steward and, through
    it, chapter-b and the coordinator, which chapter-a was never told about.
    Where the kernel can, every node runs with writable-and-executable memory
    refused, as the systemd unit's MemoryDenyWriteExecute=yes runs it."""
    nodes, ports = init_run.nodes, init_run.ports
    token = banscan(
        "token", "create", "--data-dir", str(nodes / "chapter-a"), "--role", "publisher"
    ).stdout.strip()
    prefix = memory_deny_write_execute()
    with ExitStack() as stack:
        for name, port in ports.items():
            stack.enter_context(node_running(nodes / name, port, prefix))
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['chapter-a']}/api/v1/records",
            data=json.dumps(
                {"kind": "incident", "audience": "network", "body": incident_body()}
            ).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
            record_id = json.load(response)["id"]
        waiting = {"steward", "chapter-b", "coord"}

        def replicated() -> bool:
            # A network record is not served without a token: read the databases.
            waiting.difference_update(
                [name for name in waiting if record_id in stored_ids(nodes / name)]
            )
            return not waiting

        def missing() -> str:
            return f"{sorted(waiting)} never got the record"

        eventually(replicated, missing, within_s=300, poll=0.5)


def stored_ids(data_dir: Path) -> set[str]:
    db = sqlite3.connect(f"{(data_dir / 'banscan.db').as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT lower(hex(id)) FROM records")}
    finally:
        db.close()


# ---- reverse proxies -----------------------------------------------------------------------


def test_caddyfile_proxies_with_host_and_scheme_and_no_client_address() -> None:
    text = _read(CADDYFILE)
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert "reverse_proxy {$NODE_UPSTREAM:127.0.0.1:8470}" in code
    # Caddy's defaults pass Host unchanged and set X-Forwarded-Proto; nothing may undo them.
    assert not re.search(r"header_up\s+(Host|-X-Forwarded-Proto)\b", code)
    # Caddy's default X-Forwarded-For (the address it saw) feeds the node's report limits.
    assert "X-Forwarded-For" not in code
    size = re.search(r"max_size (\d+)MiB", code)
    assert size is not None
    assert NODE_BODY_CEILING < int(size[1]) * 1024 * 1024 <= 8 * 2**20
    # An access log is what a `log` directive inside a site block turns on; the
    # only `log` allowed is the global options block's (Caddy's own errors).
    global_block, _, sites = code.partition("\n}\n")
    assert "level ERROR" in global_block
    assert not re.search(r"^\s*log\b", sites, re.M), "no access log: it would hold client IPs"


CADDY_HOW = "apt-get install caddy; .ci/run does when it runs as root"


def caddy_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Caddy's environment, with its certificates and state kept in tmp_path."""
    return {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **settings,
    }


def test_caddyfile_adapts_cleanly(tmp_path: Path) -> None:
    caddy = tool("caddy", CADDY_HOW)
    result = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=caddy_env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"level":"warn"' not in result.stderr, result.stderr
    config = json.loads(result.stdout)
    for server in config["apps"]["http"]["servers"].values():
        assert "logs" not in server, "a server with logs writes access logs (client IPs)"
    default_log = config["logging"]["logs"]["default"]
    assert default_log["level"] == "ERROR"
    # Errors about a request carry the request: its address fields must go.
    deleted = {
        field
        for field, rule in default_log["encoder"]["fields"].items()
        if rule["filter"] == "delete"
    }
    assert {"request>remote_ip", "request>client_ip", "request>headers"} <= deleted


class HeaderEcho(http.server.BaseHTTPRequestHandler):
    """Stands in for the node: records what reaches it through the proxy."""

    seen: ClassVar[list[tuple[str, dict[str, str], int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, dict(self.headers.items()), len(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """No access log here either."""


@SLOW_SETUP
def test_caddy_passes_host_and_scheme_and_drops_client_addresses(tmp_path: Path) -> None:
    """Caddy run with deploy/Caddyfile (plain HTTP here, and its admin API moved off 2019)."""
    caddy = tool("caddy", CADDY_HOW)
    HeaderEcho.seen.clear()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeaderEcho)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port, admin = free_port(), free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        _read(CADDYFILE).replace("admin 127.0.0.1:2019", f"admin 127.0.0.1:{admin}"),
        encoding="utf-8",
    )
    env = caddy_env(
        tmp_path,
        SITE_ADDRESS=f"http://127.0.0.1:{port}",
        NODE_UPSTREAM=f"127.0.0.1:{upstream.server_address[1]}",
    )
    log = (tmp_path / "caddy.log").open("w")
    process = subprocess.Popen(
        [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )

    def post(body: bytes) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/federation/v1/sync",
            data=body,
            headers={
                "Content-Type": "application/msgpack",
                "X-Forwarded-For": "203.0.113.7",
                "X-Real-IP": "203.0.113.7",
                "X-Forwarded-Proto": "https",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code

    def answered() -> int | None:
        assert process.poll() is None, _read(tmp_path / "caddy.log")
        try:
            return post(b"x")
        except (urllib.error.URLError, OSError):
            return None

    try:
        status = eventually(answered, lambda: _read(tmp_path / "caddy.log"), within_s=60, poll=0.2)
        assert status == 200
        path, headers, _ = HeaderEcho.seen[-1]
        assert path == "/federation/v1/sync"
        # The Host the client used, port and all: the URL a peer signed.
        assert headers["Host"] == f"127.0.0.1:{port}"
        # The scheme of the client's connection, not what the client claimed.
        assert headers["X-Forwarded-Proto"] == "http"
        # The address Caddy saw (for the node's report limits), never the claimed one.
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        for name in ("X-Real-IP", "Forwarded"):
            assert name not in headers, name
        assert "203.0.113.7" not in json.dumps(headers)
        # A full batch gets through; a body well over the node's ceiling does not.
        assert post(b"x" * NODE_BODY_CEILING) == 200
        assert HeaderEcho.seen[-1][2] == NODE_BODY_CEILING
        # Caddy 2.7 and later answer 413; 2.6 cuts the body off at max_size and
        # answers 502, or closes the connection while the client is still sending
        # (a reset, depending on timing). Either way no more than max_size reaches
        # the node.
        refused: int | str
        try:
            refused = post(b"x" * (6 * 2**20))
        except urllib.error.URLError as exc:
            refused = type(exc.reason).__name__
        assert refused in (413, 502, "ConnectionResetError")
        assert all(length <= 5 * 2**20 for _, _, length in HeaderEcho.seen)
    finally:
        process.terminate()
        process.wait(30)
        log.close()
        upstream.shutdown()
        upstream.server_close()
    # The 6 MiB request was logged as an error, with the client's address filtered out.
    caddy_log = _read(tmp_path / "caddy.log")
    assert "request body too large" in caddy_log
    assert "203.0.113.7" not in caddy_log, "Caddy logged a client address"
    assert "remote_ip" not in caddy_log, "Caddy logged a client address"


def nginx_directives() -> list[tuple[str, str]]:
    code = "\n".join(line.split("#")[0] for line in _read(NGINX_CONF).splitlines())
    return [
        (m[1], m[2].strip()) for m in re.finditer(r"^\s*([a-z_0-9]+)\s+([^;{]*)[;{]", code, re.M)
    ]


def test_nginx_conf_proxies_with_host_and_scheme_and_no_client_address() -> None:
    directives = nginx_directives()
    assert ("proxy_pass", "http://127.0.0.1:8470") in directives
    assert ("proxy_set_header", "Host $http_host") in directives
    assert ("proxy_set_header", "X-Forwarded-Proto $scheme") in directives
    assert ("client_max_body_size", "5m") in directives
    assert NODE_BODY_CEILING < 5 * 2**20
    servers = sum(1 for name, _ in directives if name == "server")
    assert [value for name, value in directives if name == "access_log"] == ["off"] * servers
    # The client's address goes to the node in X-Forwarded-For, for its report
    # limits, replacing what the client claimed; nowhere else (no log format has it).
    assert [value for _, value in directives if "$remote_addr" in value] == [
        "X-Forwarded-For $remote_addr"
    ]
    for header in ("X-Real-IP", "Forwarded"):
        assert ("proxy_set_header", f'{header} ""') in directives, header


NGINX_HOW = "apt-get install nginx-light; .ci/run does when it runs as root"


def nginx_config(
    tmp_path: Path, *, https_port: int = 443, http_port: int = 80, upstream: int = 8470
) -> Path:
    """deploy/nginx.conf in a minimal nginx.conf, with a throw-away certificate and
    everything nginx writes kept in tmp_path; ports as given."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nyc.example.org")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    site = (
        _read(NGINX_CONF)
        .replace("/etc/letsencrypt/live/nyc.example.org/fullchain.pem", str(tmp_path / "cert.pem"))
        .replace("/etc/letsencrypt/live/nyc.example.org/privkey.pem", str(tmp_path / "key.pem"))
        .replace("/var/log/nginx/", f"{tmp_path}/")
        .replace("/var/cache/nginx/", f"{tmp_path}/cache/")
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("http://127.0.0.1:8470", f"http://127.0.0.1:{upstream}")
    )
    # Only IPv4 on the loopback here.
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "cache").mkdir(exist_ok=True)
    # Workers run as root only when the test does, to write their temp files in tmp_path.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n"
        f"  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    return config


def test_nginx_conf_passes_nginx_t(tmp_path: Path) -> None:
    nginx = tool("nginx", NGINX_HOW)
    config = nginx_config(tmp_path)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


@SLOW_SETUP
def test_nginx_passes_host_and_scheme_and_drops_client_addresses(tmp_path: Path) -> None:
    """nginx run with deploy/nginx.conf over real TLS, on free ports."""
    nginx = tool("nginx", NGINX_HOW)
    HeaderEcho.seen.clear()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeaderEcho)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    https_port = free_port()
    config = nginx_config(
        tmp_path, https_port=https_port, http_port=free_port(), upstream=upstream.server_address[1]
    )
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    host = f"nyc.example.org:{https_port}"

    def post(body: bytes) -> int:
        request = urllib.request.Request(
            f"https://127.0.0.1:{https_port}/federation/v1/sync",
            data=body,
            headers={
                "Host": host,
                "Content-Type": "application/msgpack",
                "X-Forwarded-For": "203.0.113.7",
                "X-Real-IP": "203.0.113.7",
                "Forwarded": "for=203.0.113.7",
                "X-Forwarded-Proto": "http",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code

    def answered() -> int | None:
        assert process.poll() is None, _read(tmp_path / "error.log")
        try:
            return post(b"x")
        except (urllib.error.URLError, OSError):
            return None

    try:
        status = eventually(answered, lambda: _read(tmp_path / "error.log"), within_s=60, poll=0.2)
        assert status == 200
        path, headers, _ = HeaderEcho.seen[-1]
        assert path == "/federation/v1/sync"
        # The Host the peer used, port and all, and the scheme of its connection.
        assert headers["Host"] == host
        assert headers["X-Forwarded-Proto"] == "https"
        assert headers["X-Forwarded-For"] == "127.0.0.1"
        for name in ("X-Real-IP", "Forwarded"):
            assert name not in headers, name
        assert "203.0.113.7" not in json.dumps(headers)
        assert post(b"x" * NODE_BODY_CEILING) == 200
        assert HeaderEcho.seen[-1][2] == NODE_BODY_CEILING
        assert post(b"x" * (6 * 2**20)) == 413
        assert all(length <= NODE_BODY_CEILING for _, _, length in HeaderEcho.seen)
    finally:
        process.terminate()
        process.wait(30)
        upstream.shutdown()
        upstream.server_close()
    # The site's own logs: no access log, and the 413 (an error naming the client) not logged.
    assert not (tmp_path / "access.log").exists() or _read(tmp_path / "access.log") == ""
    site_errors = tmp_path / "banscan-error.log"
    assert "client:" not in (_read(site_errors) if site_errors.exists() else "")


# ---- deploy/README.md ----------------------------------------------------------------------


def test_deploy_readme_covers_every_file() -> None:
    readme = _read(DEPLOY / "README.md")
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, f"deploy/README.md does not mention {path.name}"
