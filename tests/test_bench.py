"""The benchmarks stay runnable and readable: each ``python -m bench.NAME`` answers
``--help`` with its documented program name, and no bench module is over 400 lines or
holds a function over 60 (bench/README.md describes how to run them for real); the site
benchmark runs for real in a tiny mode, and reads wrk's report.
"""

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
BENCHMARKS = (
    "ingest",
    "ingestcopies",
    "sqltrace",
    "query",
    "replication",
    "dissemination",
    "insync",
    "site",
    "maptiles",
    "publishpath",
    "osmimport",
    "siteareas",
    "gridlevels",
)
MAX_LINES = 400
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_answers_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"bench.{name}")
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m bench.{name}")


def test_bench_modules_are_short() -> None:
    long_modules, long_functions = {}, {}
    for path in sorted(BENCH.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if (lines := text.count("\n")) > MAX_LINES:
            long_modules[path.name] = lines
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions[f"{path.name}:{node.name}"] = length
    assert long_modules == {}
    assert long_functions == {}


WRK_OUTPUT = """Running 30s test @ http://127.0.0.1:40000
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.20ms    3.10ms  80.00ms   90.00%
    Req/Sec     2.25k   100.00     2.50k    70.00%
  Latency Distribution
     50%  850.00us
     75%   15.00ms
     90%   18.00ms
     99%    1.20s
  67500 requests in 30.00s, 1.20GB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   2250.00
Transfer/sec:     40.96MB
"""


def test_site_benchmark_reads_wrk() -> None:
    from bench.siteload import parse_wrk

    assert parse_wrk(WRK_OUTPUT) == (2250.0, 67500, 7, 0.85, 1200.0)


def test_site_benchmark_runs_in_a_tiny_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = importlib.import_module("bench.site")
    tiny = ["--deployments", "300", "--incidents", "60", "--tiles", "3", "--records", "4"]
    tiny += ["--repeat", "3", "--list-depth", "1", "--load-seconds", "0", "--workers", "1"]
    assert site.main([*tiny, "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "ERROR" not in captured.err
    out = captured.out
    for figure in ("tiles z14", "list pages, first", "home page /", "/privacy", "load"):
        assert figure in out


def test_site_benchmark_finds_what_a_page_loads() -> None:
    from bench.siteweight import _linked, _Links

    links = _Links()
    links.feed(
        '<link rel="stylesheet" href="/static/site.css?v=1"><link rel="icon" href="/i.svg">'
        '<script src="/static/map.js?v=2" defer></script>'
        '<div id="map" data-worker="/static/w.js?v=3" data-tiles="/tiles/{z}/{x}/{y}.mvt"></div>'
        '<section data-ed25519="/static/vendor/@noble/ed25519/index.js?v=4"></section>'
    )
    assert links.css == ["/static/site.css?v=1"]
    assert links.js == [
        "/static/map.js?v=2",
        "/static/w.js?v=3",
        "/static/vendor/@noble/ed25519/index.js?v=4",
    ]
    assert links.other == ["/i.svg"]
    module = b'import{a as b}from"./utils.js";export * from "./_md.js";const x = "./not-a-module";'
    assert _linked("js", "/static/vendor/m/index.js", module) == [
        ("js", "/static/vendor/m/utils.js"),
        ("js", "/static/vendor/m/_md.js"),
    ]
    css = (
        b'@import url("parts.css"); .a { background: url(/static/dot.svg) } .b { src: url(data:x) }'
    )
    assert _linked("css", "/static/site.css", css) == [
        ("css", "/static/parts.css"),
        ("other", "/static/dot.svg"),
    ]
