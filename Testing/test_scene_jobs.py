"""Background jobs of the Slicer module (MLNNetLib.scene.jobs) on real slicer-core nodes, without Qt.

The module runs ``python -m MLNNetLib ...`` through qt.QProcess; here the same job objects are driven by a
``subprocess`` runner that forwards stderr/stdout and the exit code exactly as the Qt adapter does, so the
real CLI runs, its JSON progress is parsed, and the result is loaded into a headless MRML scene.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.progress import ProgressEvent
from MLNNetLib.scene import (
    MLN_SEGMENT_NAME,
    add_mask_segment,
    add_volume_from_image,
    evaluate_segments,
    new_segmentation_node,
    quantify_segment,
    segment_names,
    segment_to_array,
    table_to_rows,
    write_mask_to_segment,
)
from MLNNetLib.scene.jobs import (
    BackgroundJob,
    classification_job,
    evaluation_job,
    features_from_table,
    quantification_job,
    segmentation_job,
)
from MLNNetLib.scene.run import SUMMARY_ATTRIBUTE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MLNNet"))


class SubprocessRunner:
    """ProcessRunner for tests: what the module's QProcess adapter does, with subprocess and a reader thread."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.started_with: tuple | None = None

    def start(self, program, arguments, environment, working_directory) -> None:
        self.started_with = (program, list(arguments), dict(environment), working_directory)
        env = {**os.environ, **environment}
        self.proc = subprocess.Popen([program, *arguments], env=env, cwd=working_directory, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def run(self, job: BackgroundJob, on_stderr=None, after_start=None):
        """Start ``job`` and deliver its output until the process ends; returns the JobOutcome.

        ``handler_seconds`` adds up the time spent in the job's start and output handlers (what Slicer's main
        thread spends while the process runs), ``load_seconds`` the final process_finished (the result load),
        ``process_seconds`` the child's lifetime.
        """
        t0 = time.perf_counter()
        job.start(self)
        self.handler_seconds = time.perf_counter() - t0
        if after_start is not None:
            after_start(job)
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(self.proc.stdout.read()), daemon=True)
        reader.start()
        for chunk in iter(lambda: self.proc.stderr.readline(), ""):
            t = time.perf_counter()
            job.read_stderr(chunk)
            self.handler_seconds += time.perf_counter() - t
            if on_stderr is not None:
                on_stderr(job, chunk)
        code = self.proc.wait()
        self.process_seconds = time.perf_counter() - t0
        reader.join()
        job.read_stdout("".join(out))
        t = time.perf_counter()
        outcome = job.process_finished(code, crashed=code < 0)
        self.load_seconds = time.perf_counter() - t
        return outcome


class ScriptedRunner:
    """A process that never runs: the test feeds the job by hand (chunking, crashes, start failures)."""

    def __init__(self) -> None:
        self.started = None
        self.killed = 0

    def start(self, program, arguments, environment, working_directory) -> None:
        self.started = (program, arguments, environment, working_directory)

    def kill(self) -> None:
        self.killed += 1


@pytest.fixture
def tiny_model(tiny_checkpoint_path) -> Path:
    return tiny_checkpoint_path


def _synthetic_volume(mrml):
    from MLNNetModuleLib import testdata

    image, mask, spacing = testdata.synthetic_case(shape=(256, 256))
    volume = add_volume_from_image(mrml.scene, Image(image, Geometry.identity((spacing, spacing))), "synthetic")
    return volume, mask


def test_segmentation_runs_in_a_child_process_and_loads_only_at_the_end(mrml, tiny_model, tmp_path):
    volume, mask = _synthetic_volume(mrml)
    labels = new_segmentation_node(mrml.scene, volume, "labels")
    manual_id = labels.GetSegmentation().AddEmptySegment("", "Level tracing")
    write_mask_to_segment(labels, manual_id, mask, volume)
    events: list[ProgressEvent] = []
    nodes_during_run: list[int] = []
    job = segmentation_job(volume, tiny_model, labels, overlap=0.0, probability=True, temp_root=tmp_path,
                           on_progress=events.append)
    workdir = job.workdir
    assert (workdir / "input.nrrd").is_file()  # the input is written before the start, once
    nodes_before = mrml.scene.GetNumberOfNodes()
    runner = SubprocessRunner()
    outcome = runner.run(job, on_stderr=lambda j, _: nodes_during_run.append(mrml.scene.GetNumberOfNodes()))

    assert outcome.state == "finished", outcome.message
    # the caller's (GUI) thread only starts the process and parses lines: a tiny share of the run
    assert runner.handler_seconds < 0.05 * runner.process_seconds, (runner.handler_seconds, runner.process_seconds)
    program, arguments, environment, _ = runner.started_with
    assert program == sys.executable and arguments[:3] == ["-m", "MLNNetLib", "segment"]
    assert environment["MLNNET_PROGRESS"] == "json"
    # progress came from the child's JSON lines, in order, ending complete
    tiles = [e for e in events if e.total > 0]
    assert events[0].message == "starting" and tiles and tiles[-1].done == tiles[-1].total
    assert [e.done for e in tiles] == sorted(e.done for e in tiles)
    # the scene did not change while the process ran; the result came in at the end, beside the manual labels
    assert set(nodes_during_run) == {nodes_before}
    summary = outcome.result
    assert list(segment_names(labels)) == ["Level tracing", MLN_SEGMENT_NAME]
    assert summary["segmentation_node_id"] == labels.GetID() and len(summary["scores"]) == 2
    assert "input" not in summary  # temporary paths are not stored in the scene
    result = segment_to_array(labels, summary["segment_id"], volume)
    assert result.shape == mask.shape and result.sum() == summary["foreground_pixels"]
    prob = mrml.scene.GetNodeByID(summary["probability_node_id"])
    assert prob is not None and prob.GetImageData().GetDimensions()[:2] == (256, 256)
    assert labels.GetAttribute(SUMMARY_ATTRIBUTE)
    assert not workdir.exists()  # the temporary files are gone


def test_cancel_kills_the_process_and_leaves_the_scene_unchanged(mrml, tiny_model, tmp_path):
    volume, _ = _synthetic_volume(mrml)
    nodes_before = mrml.scene.GetNumberOfNodes()
    job = segmentation_job(volume, tiny_model, temp_root=tmp_path)
    runner = SubprocessRunner()
    outcome = runner.run(job, after_start=lambda j: j.cancel())  # Cancel pressed while the child starts up
    assert outcome.state == "cancelled" and "not changed" in outcome.message
    assert runner.proc.returncode < 0  # killed by a signal, it did not finish
    assert mrml.scene.GetNumberOfNodes() == nodes_before
    assert not job.workdir.exists()


def test_a_failing_cli_run_reports_its_error_and_changes_nothing(mrml, tmp_path):
    volume, seg = _two_segment_volume(mrml)
    job = evaluation_job(seg, "reference", seg, "predicted", volume, temp_root=tmp_path)
    (job.workdir / "reference.nrrd").unlink()  # the child finds bad input: exit code 2 and an "error:" line
    nodes_before = mrml.scene.GetNumberOfNodes()
    outcome = SubprocessRunner().run(job)
    assert outcome.state == "failed"
    assert "bad input" in outcome.message and "reference.nrrd" in outcome.message  # the CLI names the file
    assert mrml.scene.GetNumberOfNodes() == nodes_before


def test_inputs_are_checked_before_anything_is_written(mrml, tmp_path):
    volume, _ = _synthetic_volume(mrml)
    with pytest.raises(InputError, match="no such model file"):
        segmentation_job(volume, tmp_path / "missing.safetensors", temp_root=tmp_path)
    with pytest.raises(InputError, match="no such model file"):
        segmentation_job(volume, "", temp_root=tmp_path)
    seg = new_segmentation_node(mrml.scene, volume, "empty")
    with pytest.raises(InputError, match="has no segment"):
        evaluation_job(seg, "nope", seg, "nope", volume, temp_root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no work folder was created


def test_progress_lines_split_across_chunks_logs_and_failure_message(tmp_path):
    logs: list[str] = []
    events: list[ProgressEvent] = []
    job = BackgroundJob("Test", ["info", "x"], tmp_path / "w", load=lambda j: "loaded",
                        on_progress=events.append, on_log=logs.append)
    (tmp_path / "w").mkdir()
    runner = ScriptedRunner()
    job.start(runner)
    line = ProgressEvent("segment", 3, 8, "tile batch 3/8").to_line()
    job.read_stderr("INFO MLNNet: loading\n" + line[:10])
    job.read_stderr(line[10:] + "\nTraceback (most recent call last):\n")
    job.read_stderr("ValueError: boom")  # no newline at the end: still reported
    assert [e.done for e in events] == [0, 3] and events[1].message == "tile batch 3/8"
    outcome = job.process_finished(1)
    assert outcome.state == "failed" and "exit code 1" in outcome.message and "ValueError: boom" in outcome.message
    assert logs == ["INFO MLNNet: loading", "Traceback (most recent call last):", "ValueError: boom"]
    assert not (tmp_path / "w").exists()


def test_states_start_once_cancel_before_start_and_start_failure(tmp_path):
    loaded = []
    job = BackgroundJob("Test", ["info"], tmp_path, load=loaded.append)
    job.cancel()
    assert job.state == "cancelled"
    with pytest.raises(RuntimeError, match="cannot start"):
        job.start(ScriptedRunner())
    job2 = BackgroundJob("Test", ["info"], tmp_path, load=loaded.append)
    runner = ScriptedRunner()
    job2.start(runner)
    with pytest.raises(RuntimeError, match="cannot start"):
        job2.start(runner)
    outcome = job2.process_error("No such file or directory")
    assert outcome.state == "failed" and "could not run" in outcome.message
    job3 = BackgroundJob("Test", ["info"], tmp_path, load=loaded.append)
    job3.start(runner)
    job3.cancel()
    assert runner.killed == 1 and job3.state == "cancelling"
    assert job3.process_finished(0).state == "cancelled"  # even a clean exit after Cancel loads nothing
    job4 = BackgroundJob("Test", ["info"], tmp_path, load=loaded.append)
    job4.start(runner)
    job4.cancel()
    assert job4.process_error("killed while starting").state == "cancelled"
    assert loaded == []


def test_removed_input_node_is_reported_not_loaded(mrml, tmp_path):
    volume, seg = _two_segment_volume(mrml)
    job = quantification_job(volume, seg, "reference", temp_root=tmp_path)
    mrml.scene.RemoveNode(volume)  # the user deletes the volume while the child runs
    nodes = mrml.scene.GetNumberOfNodes()
    outcome = SubprocessRunner().run(job)
    assert outcome.state == "failed" and "was removed" in outcome.message
    assert mrml.scene.GetNumberOfNodes() == nodes


def _two_segment_volume(mrml):
    spacing = (0.068, 0.05)
    img = np.full((60, 80), 100.0, np.float32)
    ref = np.zeros((60, 80), np.uint8)
    for r, c in [(10, 10), (10, 14), (14, 10), (14, 14), (12, 18), (18, 12)]:
        ref[r : r + 2, c : c + 2] = 1
    ref[50:52, 70:72] = 1
    pred = np.zeros_like(ref)
    pred[10:13, 10:12] = 1
    pred[40:42, 40:42] = 1
    img[ref > 0] = 200.0
    volume = add_volume_from_image(mrml.scene, Image(img, Geometry.identity(spacing)), "img")
    seg = new_segmentation_node(mrml.scene, volume, "segs")
    add_mask_segment(seg, ref, volume, name="reference")
    add_mask_segment(seg, pred, volume, name="predicted")
    return volume, seg


def test_background_evaluation_gives_the_in_process_table(mrml, tmp_path):
    volume, seg = _two_segment_volume(mrml)
    metrics_here, table_here = evaluate_segments(seg, "reference", seg, "predicted", volume)
    outcome = SubprocessRunner().run(evaluation_job(seg, "reference", seg, "predicted", volume, temp_root=tmp_path))
    assert outcome.state == "finished", outcome.message
    metrics, table = outcome.result
    for key in ("tpr", "precision", "dice", "hd", "hd95", "asd", "lesion_sensitivity"):
        assert metrics[key] == pytest.approx(metrics_here[key]), key
    assert table_to_rows(table) == table_to_rows(table_here)
    assert table.GetName() == table_here.GetName() == "Evaluation predicted vs reference"


def test_background_quantification_gives_the_in_process_nodes(mrml, tmp_path):
    volume, seg = _two_segment_volume(mrml)
    here = quantify_segment(volume, seg, "reference")
    outcome = SubprocessRunner().run(quantification_job(volume, seg, "reference", temp_root=tmp_path))
    assert outcome.state == "finished", outcome.message
    there = outcome.result
    assert there["n_calcifications"] == here["n_calcifications"] == 7 and there["n_clusters"] == here["n_clusters"] == 1
    for key in ("calcifications", "clusters", "features_table"):
        a = table_to_rows(mrml.scene.GetNodeByID(here[key]))
        b = table_to_rows(mrml.scene.GetNodeByID(there[key]))
        assert len(a) == len(b) and a[0].keys() == b[0].keys(), key
        for row_a, row_b in zip(a, b):
            for col, value in row_a.items():
                if isinstance(value, float):
                    assert row_b[col] == pytest.approx(value, nan_ok=True, rel=1e-6), (key, col)
                else:
                    assert str(row_b[col]) == str(value), (key, col)
    p_here, p_there = (mrml.scene.GetNodeByID(d["points"]) for d in (here, there))
    assert p_there.GetNthControlPointLabel(0) == p_here.GetNthControlPointLabel(0) == "Cluster 1: 6 calcifications"
    np.testing.assert_allclose(p_there.GetNthControlPointPositionVector(0), p_here.GetNthControlPointPositionVector(0))


def test_background_classification_of_quantified_features(mrml, tmp_path):
    from MLNNetLib.classify import train_classifiers
    from MLNNetLib.quantify import FEATURE_NAMES

    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        label = "malignant" if i % 2 else "benign"
        values = rng.normal(size=len(FEATURE_NAMES)) + (2.0 if label == "malignant" else 0.0)
        rows.append(",".join([*(f"{v:.4f}" for v in values), label]))
    table_csv = tmp_path / "features.csv"
    table_csv.write_text(",".join([*FEATURE_NAMES, "label"]) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    train_classifiers(table_csv, "label", tmp_path / "clf", models=["lr"], n_boot=20, positive="malignant")
    volume, seg = _two_segment_volume(mrml)
    quantified = quantify_segment(volume, seg, "reference")
    features = features_from_table(mrml.scene.GetNodeByID(quantified["features_table"]))
    assert set(features) == set(FEATURE_NAMES)
    outcome = SubprocessRunner().run(classification_job(features, tmp_path / "clf" / "model.skops", mrml.scene,
                                                         temp_root=tmp_path / "jobs"))
    assert outcome.state == "finished", outcome.message
    assert outcome.result["prediction"] in ("benign", "malignant")
    assert 0.0 <= outcome.result["probability_malignant"] <= 1.0
    rows = {r["name"]: r["value"] for r in table_to_rows(mrml.scene.GetNodeByID(outcome.result["table"]))}
    assert rows["prediction"] == outcome.result["prediction"]
