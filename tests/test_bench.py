"""The benchmarks stay runnable and readable: each ``python -m bench.NAME`` answers
``--help`` with its documented program name, and no bench module is over 400 lines or
holds a function over 60 (bench/README.md describes how to run them for real).
"""

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
BENCHMARKS = ("ingest", "query", "replication", "dissemination", "insync", "maptiles")
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
