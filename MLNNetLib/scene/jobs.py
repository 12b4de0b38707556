"""Background runs of ``python -m MLNNetLib COMMAND`` for the Slicer module, without Qt.

The Slicer GUI must never wait on a computation, so segmentation, evaluation, quantification and
classification run in a child process with Slicer's own Python (``sys.executable`` inside Slicer is
PythonSlicer). A :class:`BackgroundJob` owns a private work folder holding the inputs (written before the
start), the command line, and what to do with the finished files. Whatever runs the process is injected: any
object with ``start(program, arguments, environment, working_directory)`` and ``kill()`` (a thin
``qt.QProcess`` adapter in the module, ``subprocess`` in the tests). The runner forwards what the process
writes (:meth:`BackgroundJob.read_stderr`, :meth:`BackgroundJob.read_stdout`) and how it ended
(:meth:`BackgroundJob.process_finished`); the job turns the JSON progress lines into
:class:`MLNNetLib.progress.ProgressEvent` s, keeps the last log lines for the error message, and loads the
result into the scene only after a clean exit, on the caller's thread. A cancelled or failed run leaves the
scene as it was.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import PROGRESS_ENV, ProgressEvent, parse_progress_line

log = get_logger(__name__)

LIBRARY_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding MLNNetLib/ (checkout or qt-scripted-modules)
TAIL_LINES = 40  # stderr lines kept for the error message
EXIT_BAD_INPUT = 2  # the CLI's exit code for InputError (README: "exit code 2")
EXIT_CANCELLED = 130


class ProcessRunner(Protocol):
    """What a job needs from the thing that runs the process (qt.QProcess in Slicer)."""

    def start(self, program: str, arguments: list[str], environment: dict[str, str], working_directory: str) -> None: ...

    def kill(self) -> None: ...


@dataclass
class JobOutcome:
    """How a job ended: ``finished`` (``result`` holds what the loader returned), ``failed`` or ``cancelled``."""

    state: str
    result: Any = None
    message: str = ""


class BackgroundJob:
    """One ``python -m MLNNetLib ARGUMENTS`` run: command, output parsing, states, result loading.

    States: ``prepared`` -> ``running`` -> ``finished`` | ``failed`` | ``cancelled`` (via ``cancelling``).
    """

    def __init__(
        self,
        title: str,
        arguments: Sequence[str],
        workdir: str | os.PathLike,
        load: Callable[[BackgroundJob], Any],
        python: str | None = None,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.title = title
        self.arguments = [str(a) for a in arguments]
        self.workdir = Path(workdir)
        self.python = python or sys.executable
        self.state = "prepared"
        self.last_event: ProgressEvent | None = None
        self._load = load
        self._on_progress = on_progress
        self._on_log = on_log
        self._process: ProcessRunner | None = None
        self._stderr_partial = ""
        self._stdout: list[str] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    # --- command --------------------------------------------------------------------------------------------
    def command(self) -> tuple[str, list[str], dict[str, str], str]:
        """(program, arguments, environment additions, working directory) of the child process."""
        path = os.pathsep.join(p for p in (LIBRARY_ROOT, os.environ.get("PYTHONPATH", "")) if p)
        environment = {"PYTHONPATH": path, PROGRESS_ENV: "json", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
        return self.python, ["-m", "MLNNetLib", *self.arguments], environment, LIBRARY_ROOT

    def start(self, process: ProcessRunner) -> None:
        if self.state != "prepared":
            raise RuntimeError(f"{self.title}: cannot start a job that is {self.state}")
        self._process = process
        self.state = "running"
        program, arguments, environment, cwd = self.command()
        log.info("%s: %s %s", self.title, program, " ".join(arguments))
        self._progress(ProgressEvent(self.title, 0, 0, "starting"))
        process.start(program, arguments, environment, cwd)

    @property
    def active(self) -> bool:
        return self.state in ("running", "cancelling")

    # --- what the process writes ----------------------------------------------------------------------------
    def read_stderr(self, text: str) -> None:
        """Feed stderr as it arrives (any chunking): progress lines become events, the rest is log."""
        lines = (self._stderr_partial + text).split("\n")
        self._stderr_partial = lines.pop()
        for line in lines:
            self._stderr_line(line.rstrip("\r"))

    def read_stdout(self, text: str) -> None:
        self._stdout.append(text)

    def _stderr_line(self, line: str) -> None:
        event = parse_progress_line(line)
        if event is not None:
            self._progress(event)
            return
        if line.strip():
            self._tail.append(line)
            if self._on_log is not None:
                self._on_log(line)

    def _progress(self, event: ProgressEvent) -> None:
        self.last_event = event
        if self._on_progress is not None:
            self._on_progress(event)

    def stdout_json(self) -> Any:
        """The last line of stdout that is a JSON document (the CLI prints its result last), or None."""
        for line in reversed("".join(self._stdout).splitlines()):
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return None

    # --- how it ends ----------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Kill the process; the outcome arrives with ``process_finished`` (``cancelled``, scene unchanged)."""
        if self.state == "prepared":
            self.state = "cancelled"
            self.cleanup()
        elif self.state == "running":
            self.state = "cancelling"
            if self._process is not None:
                self._process.kill()

    def process_error(self, message: str) -> JobOutcome:
        """The process could not be started (or the runner failed): report it, nothing is loaded."""
        if self.state in ("finished", "failed", "cancelled"):
            return JobOutcome(self.state, message=message)
        self.cleanup()
        if self.state == "cancelling":  # killed before it was up: still a cancel, not an error
            self.state = "cancelled"
            return JobOutcome("cancelled", message=f"{self.title} cancelled: the scene was not changed.")
        self.state = "failed"
        return JobOutcome("failed", message=f"{self.title} could not run {self.python}: {message}")

    def process_finished(self, exit_code: int, crashed: bool = False) -> JobOutcome:
        """Decide the outcome; on a clean exit load the result (this is the only place the scene changes)."""
        if self._stderr_partial:
            self._stderr_line(self._stderr_partial)
            self._stderr_partial = ""
        try:
            if self.state == "cancelling":
                self.state = "cancelled"
                return JobOutcome("cancelled", message=f"{self.title} cancelled: the scene was not changed.")
            if self.state != "running":
                return JobOutcome(self.state, message=f"{self.title} already ended ({self.state})")
            if crashed or exit_code != 0:
                self.state = "failed"
                return JobOutcome("failed", message=self._failure_message(exit_code, crashed))
            try:
                result = self._load(self)
            except Exception as exc:  # a result that does not fit the scene is reported, not raised into Qt
                self.state = "failed"
                log.exception("%s: loading the result failed", self.title)
                return JobOutcome("failed", message=f"{self.title}: the result could not be loaded: {exc}")
            self.state = "finished"
            return JobOutcome("finished", result=result)
        finally:
            self.cleanup()

    def _failure_message(self, exit_code: int, crashed: bool) -> str:
        errors = [line for line in self._tail if line.lower().startswith("error")]
        detail = errors[-1] if errors else "\n".join(list(self._tail)[-5:]) or "no output"
        if crashed:
            return f"{self.title}: the process crashed (exit code {exit_code}).\n{detail}"
        if exit_code == EXIT_BAD_INPUT:
            return f"{self.title}: bad input. {detail}"
        if exit_code == EXIT_CANCELLED:
            return f"{self.title} was interrupted (exit code {exit_code})."
        return f"{self.title} failed (exit code {exit_code}).\n{detail}"

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- inputs --------------------------------------------------------------------------------------------------
def _workdir(temp_root: str | os.PathLike | None) -> Path:
    if temp_root is not None:
        Path(temp_root).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="MLNNet-", dir=temp_root))


def _require_in_scene(node: Any, what: str) -> None:
    if node is not None and node.GetScene() is None:
        raise InputError(None, f"the {what} '{node.GetName()}' was removed from the scene during the run")


def _write_volume(volume_node: Any, path: Path) -> Any:
    """The volume as the library reads it (float32, LPS geometry) in ``path``; returns the Image."""
    from MLNNetLib.io import write_image
    from MLNNetLib.scene.volumes import image_from_volume

    image = image_from_volume(volume_node)
    write_image(image.array, image.geometry, path)
    return image


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """A CSV written by MLNNetLib.quantify.write_table, numbers as int/float (empty = missing)."""
    def value(text: str) -> Any:
        if text == "":
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="", encoding="utf-8") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def segmentation_job(
    volume_node: Any,
    model_path: str | os.PathLike,
    segmentation_node: Any = None,
    selection: str = "polarity",
    device: str = "cpu",
    tile: int = 0,
    overlap: float = 0.25,
    roi_node: Any = None,
    probability: bool | Any = False,
    temp_root: str | os.PathLike | None = None,
    python: str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> BackgroundJob:
    """``mlnnet segment`` on a copy of ``volume_node``; the finished mask becomes a new segment.

    The job's result is the run summary with the IDs of the nodes written, plus ``focus`` (the largest
    cluster, a ``views.ClusterSpot`` or None) for :func:`MLNNetLib.scene.views.present_segmentation`.

    The inputs are checked before anything is written; the ROI is converted to the pixel box now, so moving
    it during the run changes nothing. ``probability`` as in ``segment_volume_node``.
    """
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.scene.run import add_result_to_scene, roi_pixels
    from MLNNetLib.scene.views import largest_cluster
    from MLNNetLib.scene.volumes import volume_array_shape

    model = Path(model_path)
    if not str(model_path).strip() or not model.is_file():
        raise InputError(model, "no such model file (choose the .safetensors written by 'mlnnet train')")
    volume_array_shape(volume_node)  # raises for a volume without voxels
    roi = roi_pixels(volume_node, roi_node) if roi_node is not None else None
    wants_probability = probability is not None and probability is not False
    workdir = _workdir(temp_root)
    image_path, mask_path, prob_path = workdir / "input.nrrd", workdir / "mask.nrrd", workdir / "probability.nrrd"
    try:
        spacing = _write_volume(volume_node, image_path).spacing
    except Exception:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    arguments = ["segment", "--model", str(model.resolve()), "--input", str(image_path), "--output", str(mask_path),
                 "--selection", selection, "--device", device, "--overlap", f"{float(overlap):g}"]
    if int(tile) > 0:
        arguments += ["--tile", str(int(tile))]
    if roi is not None:
        arguments += ["--roi", *(str(v) for v in roi)]
    if wants_probability:
        arguments += ["--probability", str(prob_path)]

    def load(job: BackgroundJob) -> dict[str, Any]:
        _require_in_scene(volume_node, "input volume")
        _require_in_scene(segmentation_node, "output segmentation")
        if wants_probability and probability is not True:
            _require_in_scene(probability, "probability volume")
        summary = job.stdout_json()
        if not isinstance(summary, dict):
            summary_file = mask_path.with_suffix(".json")
            summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
        mask = read_mask(mask_path).array.astype(np.uint8)
        prob = read_image(prob_path).array if wants_probability else None
        summary = {k: v for k, v in summary.items() if k not in ("input", "mask", "probability")}  # temporary paths
        summary = add_result_to_scene(volume_node, mask, summary, segmentation_node, probability_array=prob,
                                      probability=probability, roi=roi)
        return {**summary, "focus": largest_cluster(mask, spacing)}  # where the views go (not stored in the scene)

    return BackgroundJob("Segmentation", arguments, workdir, load, python, on_progress, on_log)


def evaluation_job(
    reference_node: Any,
    reference_segment: str,
    predicted_node: Any,
    predicted_segment: str,
    volume_node: Any,
    table_node: Any = None,
    temp_root: str | os.PathLike | None = None,
    python: str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> BackgroundJob:
    """``mlnnet evaluate`` on the two segments (on the volume's grid and spacing); the metrics become a table."""
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image
    from MLNNetLib.scene.evaluation import evaluation_masks, evaluation_table, table_name
    from MLNNetLib.scene.volumes import image_from_volume

    ref, pred, _ = evaluation_masks(reference_node, reference_segment, predicted_node, predicted_segment, volume_node)
    geometry: Geometry = image_from_volume(volume_node).geometry
    ref_name = reference_node.GetSegmentation().GetSegment(_segment_id(reference_node, reference_segment)).GetName()
    pred_name = predicted_node.GetSegmentation().GetSegment(_segment_id(predicted_node, predicted_segment)).GetName()
    workdir = _workdir(temp_root)
    ref_path, pred_path = workdir / "reference.nrrd", workdir / "predicted.nrrd"
    write_image(ref, geometry, ref_path)
    write_image(pred, geometry, pred_path)

    def load(job: BackgroundJob) -> tuple[dict[str, Any], Any]:
        _require_in_scene(volume_node, "input volume")
        _require_in_scene(table_node, "results table")
        metrics = job.stdout_json()
        if not isinstance(metrics, dict):
            raise InputError(None, "the evaluation printed no result")
        metrics = {k: v for k, v in metrics.items() if k not in ("pred", "ref")}  # temporary paths
        table = evaluation_table(volume_node.GetScene(), metrics, table_name(pred_name, ref_name), table_node)
        return metrics, table

    arguments = ["evaluate", "--pred", str(pred_path), "--ref", str(ref_path)]
    return BackgroundJob("Evaluation", arguments, workdir, load, python, on_progress, on_log)


def _segment_id(segmentation_node: Any, segment: str) -> str:
    from MLNNetLib.scene.segments import find_segment

    return find_segment(segmentation_node, segment)


def quantification_job(
    volume_node: Any,
    segmentation_node: Any,
    segment: str,
    temp_root: str | os.PathLike | None = None,
    python: str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> BackgroundJob:
    """``mlnnet quantify`` on a segment of a 2-D volume; the tables and cluster points are added at the end."""
    from MLNNetLib.io import write_image
    from MLNNetLib.scene.quantification import add_quantification_nodes, quantification_inputs
    from MLNNetLib.scene.volumes import image_from_volume

    image, mask, _, name = quantification_inputs(volume_node, segmentation_node, segment)
    geometry = image_from_volume(volume_node).geometry
    workdir = _workdir(temp_root)
    image_path, mask_path = workdir / "image.nrrd", workdir / "mask.nrrd"
    calcs_path, clusters_path = workdir / "calcifications.csv", workdir / "clusters.csv"
    write_image(image, geometry, image_path)
    write_image(mask, geometry, mask_path)

    def load(job: BackgroundJob) -> dict[str, Any]:
        _require_in_scene(volume_node, "input volume")
        features = job.stdout_json()
        if not isinstance(features, dict):
            raise InputError(None, "the quantification printed no features")
        unit = features.pop("density_unit", None)
        return add_quantification_nodes(volume_node, name, _read_rows(calcs_path), _read_rows(clusters_path), features,
                                        unit)

    arguments = ["quantify", "--image", str(image_path), "--mask", str(mask_path),
                 "--out", str(calcs_path), "--clusters-out", str(clusters_path)]
    return BackgroundJob("Quantification", arguments, workdir, load, python, on_progress, on_log)


def features_from_table(table_node: Any) -> dict[str, float]:
    """Image-level features back from a name/value table written by the quantification."""
    from MLNNetLib.scene.tables import table_to_rows

    out: dict[str, float] = {}
    for row in table_to_rows(table_node):
        try:
            out[str(row["name"])] = float(row["value"])
        except (KeyError, TypeError, ValueError):
            continue
    if not out:
        raise InputError(None, f"table '{table_node.GetName()}' holds no numeric features (run Quantify first)")
    return out


def classification_job(
    features: Mapping[str, float],
    classifier_path: str | os.PathLike,
    scene: Any,
    name: str = "Classification",
    temp_root: str | os.PathLike | None = None,
    python: str | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> BackgroundJob:
    """``mlnnet classify predict`` on one image's features; the prediction becomes a small table."""
    from MLNNetLib.scene.tables import dict_table

    model = Path(classifier_path)
    if not str(classifier_path).strip() or not model.is_file():
        raise InputError(model, "no such classifier file (choose the model.skops written by 'mlnnet classify train')")
    workdir = _workdir(temp_root)
    features_path = workdir / "features.csv"
    with open(features_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(features))
        writer.writeheader()
        writer.writerow({k: repr(float(v)) for k, v in features.items()})

    def load(job: BackgroundJob) -> dict[str, Any]:
        printed = job.stdout_json()
        rows = printed.get("rows") if isinstance(printed, dict) else None
        if not rows:
            raise InputError(model, "the classifier printed no prediction")
        result = {k: v for k, v in rows[0].items() if k != "row"}
        result["classifier"] = str(model)
        table = dict_table(scene, result, f"{name} classification")
        return {**result, "table": table.GetID()}

    arguments = ["classify", "predict", "--model", str(model.resolve()), "--features", str(features_path)]
    return BackgroundJob("Classification", arguments, workdir, load, python, on_progress, on_log)
