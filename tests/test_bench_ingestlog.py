"""``bench/ingestlog.py`` keeps working: it answers ``--help``, and a tiny run measures
every variant, stores the whole window each time, and finds the indexer's tables equal
to today's path's (bench/README.md, "A two-stage ingest, measured")."""

from pathlib import Path

import pytest

from bench import ingestlog


def test_ingestlog_answers_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        ingestlog.main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m bench.ingestlog")


def test_ingestlog_tiny_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--stored", "200", "--records", "100", "--rounds", "1", "--cache", str(tmp_path)]
    assert ingestlog.main([*argv, "--sizes", "50", "500"]) == 0
    out = capsys.readouterr().out
    assert "built in" in out
    for label in ("A  today", "B1 stage 1: log (id + slot", "B1 stage 1: log (slot unique"):
        assert out.count(label) == 2  # the round and the medians
    assert "indexer, 50 a transaction" in out
    assert "indexer, 500 a transaction" in out
    assert "indexer's tables equal to today's path's: yes" in out
    # The second run takes the cached base.
    assert ingestlog.main([*argv, "--sizes", "100"]) == 0
    assert "(cached)" in capsys.readouterr().out
