"""Machine-readable progress (MLNNET_PROGRESS=json) for a parent process such as the Slicer module."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from MLNNetLib.errors import Cancelled
from MLNNetLib.progress import JsonLinesProgress, ProgressEvent, TqdmProgress, parse_progress_line, progress_mode

ROOT = Path(__file__).resolve().parents[1]


def test_json_lines_round_trip_and_cancel():
    stream = io.StringIO()
    progress = JsonLinesProgress("segment", stream)
    progress.step(0, 4, "4 tiles")
    progress.step(4, 4, "tile batch 4/4")
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["done"] for line in lines] == [0, 4]
    assert parse_progress_line(lines[1]) == ProgressEvent("segment", 4, 4, "tile batch 4/4")
    assert parse_progress_line(lines[1]).fraction == 1.0 and ProgressEvent("x", 0, 0).fraction is None
    progress.cancel()
    with pytest.raises(Cancelled):
        progress.step(1, 4)


@pytest.mark.parametrize("line", [
    "INFO MLNNet.inference: branch 1 chosen", "", "{not json}", '{"mlnnet": "other", "done": 1, "total": 2}',
    '{"mlnnet": "progress", "done": "x", "total": 2}', '["mlnnet", "progress"]', '{"mlnnet": "progress", "total": 3}',
])
def test_other_lines_are_not_events(line):
    assert parse_progress_line(line) is None


def test_the_cli_bar_switches_to_json_lines_by_environment(monkeypatch, capsys):
    monkeypatch.setenv("MLNNET_PROGRESS", "json")
    bar = TqdmProgress("synth")
    bar.step(1, 3, "case 1")
    err = capsys.readouterr().err.strip()
    assert parse_progress_line(err) == ProgressEvent("synth", 1, 3, "case 1")
    TqdmProgress("quiet", disable=True).step(1, 3)  # --no-progress stays silent
    monkeypatch.setenv("MLNNET_PROGRESS", "none")
    TqdmProgress("none").step(1, 3)
    assert capsys.readouterr().err == ""
    assert progress_mode({"MLNNET_PROGRESS": "JSON "}) == "json" and progress_mode({}) == "bar"
    assert progress_mode({"MLNNET_PROGRESS": "fancy"}) == "bar" and "not one of" in capsys.readouterr().err


def test_a_real_cli_run_reports_json_progress_on_stderr(tmp_path):
    """``mlnnet synth`` in a child process with MLNNET_PROGRESS=json: every progress line parses, in order."""
    env = {**os.environ, "MLNNET_PROGRESS": "json", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "MLNNetLib", "synth", "--domain", "ffdm", "--count", "2", "--seed", "1",
                          "--out", str(tmp_path / "synth"), "--shape", "256", "256"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    events = [e for e in map(parse_progress_line, run.stderr.splitlines()) if e is not None]
    assert events and events[-1].done == events[-1].total
    assert np.all(np.diff([e.done for e in events]) >= 0)
    assert "\x1b" not in run.stderr and "\r" not in run.stderr  # no tqdm bar drawn
