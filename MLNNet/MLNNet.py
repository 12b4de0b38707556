"""MLNNet: MLN-net segmentation of clustered breast microcalcifications (FFDM and DBT) in 3D Slicer.

GUI only. Every computation is MLNNetLib's and runs in a child process (``python -m MLNNetLib ...`` with
Slicer's Python) through qt.QProcess, so the application stays responsive; the job logic (inputs, command,
progress parsing, states, loading the result) is MLNNetLib.scene.jobs, tested headless on slicer-core, and
the panel's decisions (enabled buttons, dependencies, versions) are MLNNetModuleLib's, tested without Qt.
This file loads the .ui, binds it to a parameter node, starts and cancels runs and shows their results.
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLMarkupsROINode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from MLNNetModuleLib import environment, states

MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
# Installed extension: MLNNetLib/ is beside this file (on sys.path already). Source checkout used through
# "Additional module paths": MLNNetLib/ is one folder up.
_LIBRARY_PARENT = environment.library_parent(MODULE_DIR)
if _LIBRARY_PARENT is not None and _LIBRARY_PARENT not in sys.path:
    sys.path.insert(0, _LIBRARY_PARENT)

SELECTION_METHODS = ["polarity", "cosine", "euclidean", "plus", "euclidean_plus", "standardized", "response", "union"]
DEVICES = ["cpu", "cuda"]
# Parameters without a SlicerParameterName widget: the two file paths are str (a pathlib.Path parameter turns
# an empty field into "." and writes it back), bound by hand below; the features table is a result.
UNBOUND_PARAMETERS = ("modelPath", "classifierPath", "featuresTable")


class MLNNet(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "MLNNet"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []
        self.parent.contributors = ["MLNNet developers (https://github.com/mlnnet/MLNNet)"]
        self.parent.helpText = (
            "Segments clustered breast microcalcifications in mammograms (FFDM) and tomosynthesis (DBT). The default "
            "model is a Pro_UNeXt with local contrast normalisation; an image whose tissue polarity reads inverted "
            "(e.g. a wrong MONOCHROME1/2 tag) is inverted back, and on an image unlike its training data its BatchNorm "
            "statistics move a quarter of the way to the image's own. MLN-net models (one norm branch per augmented "
            "domain) choose their branch per image by the same polarity reading or, as in the paper, by recorded "
            "layer statistics; an out-of-distribution warning is shown when the image fits no training domain. "
            "Also: reference labels from points (level tracing), evaluation against your labels (TPR, precision, "
            "DSC, HD, HD95, ASD in mm, lesion detection), calcification/cluster quantification and benign/malignant "
            "scoring with a trained classifier. Needs 3D Slicer 5.10 or later. "
            'See <a href="https://github.com/mlnnet/MLNNet">the documentation</a>.'
        )
        self.parent.acknowledgementText = (
            "Method: Wang K, Ye Z, Xie X, Cui H, Chen T, Liu B. MLN-net: A multi-source medical image segmentation "
            "method for clustered microcalcifications using multiple layer normalization. "
            "Knowledge-Based Systems, 2024. Quantification follows the Pro_UNeXt paper's features. "
            "Research software, not a medical device."
        )


@parameterNodeWrapper
class MLNNetParameterNode:
    """Every setting the GUI edits; names match the .ui's SlicerParameterName properties (but UNBOUND_PARAMETERS)."""

    inputVolume: vtkMRMLScalarVolumeNode
    roi: vtkMRMLMarkupsROINode
    modelPath: str = ""
    outputSegmentation: vtkMRMLSegmentationNode
    selectionMethod: Annotated[str, Choice(SELECTION_METHODS)] = "polarity"
    device: Annotated[str, Choice(DEVICES)] = "cpu"
    tileSize: Annotated[int, WithinRange(0, 4096)] = 0  # 0 = the model's training tile
    overlap: Annotated[float, WithinRange(0.0, 0.9)] = 0.25
    probabilityVolume: vtkMRMLScalarVolumeNode
    referencePoints: vtkMRMLMarkupsFiducialNode
    referenceSegmentation: vtkMRMLSegmentationNode
    referenceSegmentName: str = "Reference calcifications"
    levelFraction: Annotated[float, WithinRange(0.1, 0.9)] = 0.5
    evaluationTable: vtkMRMLTableNode
    classifierPath: str = ""
    featuresTable: vtkMRMLTableNode


def _pathOf(text) -> str:
    return states.normalize_path(str(text or ""))


class QtProcess:
    """qt.QProcess behind MLNNetLib.scene.jobs.ProcessRunner: asynchronous, its signals arrive in Slicer's
    event loop, so nothing waits; it forwards output and the end of the process to the job."""

    def __init__(self, job, onOutcome) -> None:
        self.job = job
        self.onOutcome = onOutcome
        self._done = False
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in ("out", "err")}
        self.process = qt.QProcess()
        self.process.setProcessChannelMode(qt.QProcess.SeparateChannels)
        self.process.connect("readyReadStandardError()", self._readStderr)
        self.process.connect("readyReadStandardOutput()", self._readStdout)
        self.process.connect("finished(int,QProcess::ExitStatus)", self._finished)
        self.process.connect("errorOccurred(QProcess::ProcessError)", self._error)

    def start(self, program, arguments, environment, working_directory) -> None:
        env = qt.QProcessEnvironment.systemEnvironment()
        for key, value in environment.items():
            env.insert(key, value)
        self.process.setProcessEnvironment(env)
        self.process.setWorkingDirectory(working_directory)
        self.process.start(program, list(arguments))

    def kill(self) -> None:
        if self.process.state() != qt.QProcess.NotRunning:
            self.process.kill()

    def _text(self, stream: str, data) -> str:
        return self._decoders[stream].decode(bytes(data.data()))

    def _readStderr(self) -> None:
        self.job.read_stderr(self._text("err", self.process.readAllStandardError()))

    def _readStdout(self) -> None:
        self.job.read_stdout(self._text("out", self.process.readAllStandardOutput()))

    def _finished(self, exitCode, exitStatus) -> None:
        if self._done:
            return
        self._done = True
        self._readStderr()
        self._readStdout()
        self.onOutcome(self.job.process_finished(int(exitCode), crashed=exitStatus == qt.QProcess.CrashExit))

    def _error(self, error) -> None:
        if error == qt.QProcess.FailedToStart and not self._done:  # no finished() follows
            self._done = True
            self.onOutcome(self.job.process_error(self.process.errorString()))


class MLNNetWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._process = None
        self._running = None  # "Installation" or the running job's title
        self._finishedProcess = None
        self._onJobFinished = None
        self._versionProblem = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MLNNet.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = MLNNetLogic()
        self._versionProblem = environment.version_problem((slicer.app.majorVersion, slicer.app.minorVersion), sys.version_info[:2])

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.labelPointsButton.connect("clicked(bool)", self.onLabelPointsButton)
        self.ui.evaluateButton.connect("clicked(bool)", self.onEvaluateButton)
        self.ui.quantifyButton.connect("clicked(bool)", self.onQuantifyButton)
        self.ui.classifyButton.connect("clicked(bool)", self.onClassifyButton)
        self.ui.pointsSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.pointsPlaceWidget.setCurrentNode)
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelPathChanged)
        self.ui.classifierPathLineEdit.connect("currentPathChanged(QString)", self.onClassifierPathChanged)
        for selector in (self.ui.referenceSegmentSelector, self.ui.predictedSegmentSelector, self.ui.quantifySegmentSelector):
            selector.setMRMLScene(slicer.mrmlScene)
            selector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateButtons)
            selector.connect("currentSegmentChanged(QString)", self.updateButtons)
        self.ui.progressBar.hide()
        self.ui.oodWarningLabel.hide()
        self.ui.statusLabel.text = self._versionProblem or ""
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._process is not None:
            self._process.onOutcome = lambda outcome: None  # the panel is going away: nothing left to show
        self._cancelJob()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self._cancelJob()  # its nodes are about to disappear
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                self._parameterNode.inputVolume = first

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._onParameterNodeModified()

    # --- the two path fields, bound by hand (str parameters: empty stays empty) ---------------------------
    def onModelPathChanged(self, text) -> None:
        if self._parameterNode and self._parameterNode.modelPath != _pathOf(text):
            self._parameterNode.modelPath = _pathOf(text)
        self.updateButtons()

    def onClassifierPathChanged(self, text) -> None:
        if self._parameterNode and self._parameterNode.classifierPath != _pathOf(text):
            self._parameterNode.classifierPath = _pathOf(text)
        self.updateButtons()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if p is None:
            return
        for widget, value in ((self.ui.modelPathLineEdit, _pathOf(p.modelPath)), (self.ui.classifierPathLineEdit, _pathOf(p.classifierPath))):
            if _pathOf(widget.currentPath) != value:
                widget.currentPath = value
        self.updateButtons()

    # --- enabled states ------------------------------------------------------------------------------------
    def _panelState(self) -> states.PanelState:
        p = self._parameterNode
        volume = p.inputVolume if p else None
        imageData = volume.GetImageData() if volume else None
        model = _pathOf(p.modelPath) if p else ""
        classifier = _pathOf(p.classifierPath) if p else ""

        def chosen(selector) -> bool:
            return bool(selector.currentNode() and selector.currentSegmentID())

        return states.PanelState(
            volume=imageData is not None,
            volume_slices=imageData.GetDimensions()[2] if imageData is not None else 0,
            model_path=model,
            model_exists=bool(model) and os.path.isfile(model),
            points=bool(p and p.referencePoints),
            label_segmentation=bool(p and p.referenceSegmentation),
            reference_segment=chosen(self.ui.referenceSegmentSelector),
            predicted_segment=chosen(self.ui.predictedSegmentSelector),
            quantify_segment=chosen(self.ui.quantifySegmentSelector),
            classifier_path=classifier,
            classifier_exists=bool(classifier) and os.path.isfile(classifier),
            features=bool(p and p.featuresTable),
            running=self._running,
            cancellable=self._job is not None,
            version_problem=self._versionProblem,
        )

    def updateButtons(self, *unused) -> None:
        widgets = {"apply": self.ui.applyButton, "cancel": self.ui.cancelButton, "labelPoints": self.ui.labelPointsButton,
                   "evaluate": self.ui.evaluateButton, "quantify": self.ui.quantifyButton, "classify": self.ui.classifyButton}
        for name, button in states.buttons(self._panelState()).items():
            widgets[name].enabled = button.enabled
            widgets[name].toolTip = button.tooltip

    # --- dependencies --------------------------------------------------------------------------------------
    def _ensureDependencies(self, feature: str) -> bool:
        """True when ``feature`` can run; installs on first use (one install at a time, Apply disabled)."""
        from MLNNetModuleLib.dependencies import InstallResult

        if self._running is not None:
            return False
        installer = self.logic.installer()
        if installer.plan(feature).ready:
            return True
        self._running = "Installation"
        self.updateButtons()
        self._showBusy("Installing Python packages (see the Python console for details)")
        try:
            result = installer.ensure(feature, confirm=lambda text: slicer.util.confirmOkCancelDisplay(text, "MLNNet dependencies"),
                                      on_line=self._onInstallLine)
        except Exception as exc:  # nothing may escape silently: the user gets the reason
            logging.exception("MLNNet dependency installation failed")
            result = InstallResult("failed", f"Installing the dependencies failed: {exc}")
        finally:
            self._running = None
            self.ui.progressBar.hide()
            self.updateButtons()
        if result.status in ("failed", "busy"):
            slicer.util.errorDisplay(result.message, windowTitle="MLNNet dependencies")
        self.ui.statusLabel.text = result.message
        return result.usable

    def _onInstallLine(self, line: str) -> None:
        self.ui.progressBar.format = line.strip()[:120]

    # --- background runs -----------------------------------------------------------------------------------
    def _showBusy(self, text: str) -> None:
        self.ui.progressBar.maximum = 0  # busy indicator until the first counted step
        self.ui.progressBar.value = 0
        self.ui.progressBar.format = text
        self.ui.progressBar.show()

    def _onProgress(self, event) -> None:
        if event.total <= 0:
            self.ui.progressBar.maximum = 0
            self.ui.progressBar.format = f"{self._running}: {event.message}"
        else:
            self.ui.progressBar.maximum = event.total
            self.ui.progressBar.value = event.done
            self.ui.progressBar.format = f"{self._running}: {event.message} (%p%)"

    @staticmethod
    def _onLog(line: str) -> None:
        logging.info("MLNNet: %s", line)

    @staticmethod
    def _guarded(message: str, function):
        """Run ``function``; on an exception show ``message`` with the reason (and the traceback in details)."""
        try:
            with slicer.util.tryWithErrorDisplay(message, waitCursor=True):
                return function()
        except Exception:  # shown above; a Qt slot must not raise
            logging.exception(message)
            return None

    def _startJob(self, makeJob, onFinished) -> None:
        """Create the job (inputs checked and written now) and start it; ``onFinished(result)`` runs at the end."""
        if self._running is not None:
            return
        job = self._guarded("MLNNet could not start.", makeJob)
        if job is None:
            return
        self._job, self._running, self._onJobFinished = job, job.title, onFinished
        self._process = QtProcess(job, self._onOutcome)
        self.ui.statusLabel.text = ""
        self._showBusy(f"{job.title}: starting")
        self.updateButtons()
        try:
            job.start(self._process)  # returns at once: QProcess runs it, its signals come back later
        except Exception as exc:
            self._onOutcome(job.process_error(str(exc)))

    def _onOutcome(self, outcome) -> None:
        """The process ended (Qt's finished signal, on the main thread): show or load what it produced."""
        onFinished = self._onJobFinished
        self._finishedProcess = self._process  # not released inside its own finished() signal
        self._job = self._process = self._onJobFinished = None
        self._running = None
        self.ui.progressBar.hide()
        self.updateButtons()
        if outcome.state == "finished":
            self._guarded("Showing the result failed.", lambda: onFinished(outcome.result))
        elif outcome.state == "cancelled":
            self.ui.statusLabel.text = outcome.message
        else:
            self.ui.statusLabel.text = outcome.message.splitlines()[0]
            slicer.util.errorDisplay(outcome.message, windowTitle="MLNNet")
        self.updateButtons()

    def onCancelButton(self) -> None:
        self._cancelJob()

    def _cancelJob(self) -> None:
        if self._job is not None:
            self.ui.progressBar.format = f"{self._running}: cancelling"
            self._job.cancel()

    # --- Segment -------------------------------------------------------------------------------------------
    def onApplyButton(self) -> None:
        if self._running is not None or not self._ensureDependencies("segment"):
            return
        p = self._parameterNode
        self.ui.oodWarningLabel.hide()
        self._startJob(lambda: self.logic.segmentationJob(p, self._onProgress, self._onLog), self.onSegmentationFinished)

    def onSegmentationFinished(self, result: dict) -> None:
        from MLNNetLib.scene.views import present_segmentation

        p = self.logic.getParameterNode()  # also when the panel was left during the run
        self.showSummary(result)
        if not p.outputSegmentation:
            p.outputSegmentation = slicer.mrmlScene.GetNodeByID(result["segmentation_node_id"])
        volume = slicer.mrmlScene.GetNodeByID(result["volume_node_id"])  # the run's volume, even if the selector moved on
        if volume is not None:
            present_segmentation(slicer.app.applicationLogic(), volume, result)

    def showSummary(self, summary: dict) -> None:
        scores = ", ".join("n/a" if s is None else f"{s:.3f}" for s in summary.get("scores", []))
        branch = "union of all branches" if summary.get("branch") is None else f"branch {summary['branch']}"
        inverted = "; the image read as inverted and was inverted back" if summary.get("inverted") else ""
        adapted = (f"; BatchNorm statistics adapted to the image (weight {summary['norm_adapt']:g})"
                   if summary.get("norm_adapt") else "")
        averaged = (f"; each tile averaged over {summary['tta']} rotations and mirrors"
                    if summary.get("tta", 1) > 1 else "")
        self.ui.resultLabel.text = (
            f"Segment '{summary['segment_name']}': {summary['foreground_pixels']} px; {branch} "
            f"({summary.get('selection')}){inverted}{adapted}{averaged}; scores per branch: [{scores}]; {summary['seconds']:.1f} s"
        )
        self.ui.oodWarningLabel.setVisible(bool(summary.get("ood")))

    # --- Reference labels from points (in-process: level tracing of a few points takes milliseconds) --------
    def onLabelPointsButton(self) -> None:
        if self._running is not None:
            return
        results = self._guarded("Labelling points failed.", lambda: self.logic.labelPoints(self._parameterNode))
        if results is not None:
            done = [r for r in results if r.pixels > 0]
            notes = [f"point {r.index + 1}: {r.note}" for r in results if r.note]
            self.ui.labelPointsResultLabel.text = f"{len(done)} of {len(results)} points labelled. " + "; ".join(notes)

    # --- Evaluate ------------------------------------------------------------------------------------------
    def onEvaluateButton(self) -> None:
        if self._running is not None or not self._ensureDependencies("evaluate"):
            return
        ref, pred = self.ui.referenceSegmentSelector, self.ui.predictedSegmentSelector
        self._startJob(lambda: self.logic.evaluationJob(self._parameterNode, ref.currentNode(), ref.currentSegmentID(),
                                                        pred.currentNode(), pred.currentSegmentID(), self._onProgress, self._onLog),
                       self.onEvaluationFinished)

    def onEvaluationFinished(self, result) -> None:
        from MLNNetLib.scene.views import show_table

        metrics, table = result
        self.logic.getParameterNode().evaluationTable = table
        keys = ("tpr", "precision", "dice", "hd", "hd95", "asd", "lesion_sensitivity")
        self.ui.evaluationResultLabel.text = ", ".join(
            f"{k} {metrics[k]:.3f}" + (" mm" if k.startswith(("hd", "asd")) else "") for k in keys if metrics.get(k) is not None
        )
        show_table(slicer.app.applicationLogic(), table)

    # --- Quantify and classify -----------------------------------------------------------------------------
    def onQuantifyButton(self) -> None:
        if self._running is not None or not self._ensureDependencies("quantify"):
            return
        selector = self.ui.quantifySegmentSelector
        self._startJob(lambda: self.logic.quantificationJob(self._parameterNode, selector.currentNode(), selector.currentSegmentID(),
                                                            self._onProgress, self._onLog),
                       self.onQuantificationFinished)

    def onQuantificationFinished(self, out: dict) -> None:
        from MLNNetLib.scene.views import show_table

        self.logic.getParameterNode().featuresTable = slicer.mrmlScene.GetNodeByID(out["features_table"])
        self.ui.quantifyResultLabel.text = f"{out['n_calcifications']} calcifications, {out['n_clusters']} clusters"
        show_table(slicer.app.applicationLogic(), slicer.mrmlScene.GetNodeByID(out["clusters"]))

    def onClassifyButton(self) -> None:
        if self._running is not None or not self._ensureDependencies("classify"):
            return
        self._startJob(lambda: self.logic.classificationJob(self._parameterNode, self._onProgress, self._onLog),
                       self.onClassificationFinished)

    def onClassificationFinished(self, out: dict) -> None:
        from MLNNetLib.scene.views import show_table

        probability = next((f"{k.removeprefix('probability_')} probability {v:.2f}" for k, v in out.items() if k.startswith("probability_")), "")
        self.ui.classifyResultLabel.text = f"{out['prediction']} ({probability})"
        show_table(slicer.app.applicationLogic(), slicer.mrmlScene.GetNodeByID(out["table"]))


class MLNNetLogic(ScriptedLoadableModuleLogic):
    """Builds the background jobs from the parameter node (MLNNetLib.scene.jobs) and holds the installer."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._installer = None

    def getParameterNode(self):
        return MLNNetParameterNode(super().getParameterNode())

    def installer(self):
        from MLNNetModuleLib.dependencies import Installer, SlicerBackend

        if self._installer is None:
            self._installer = Installer(SlicerBackend(slicer))
        return self._installer

    @staticmethod
    def tempRoot() -> str:
        return slicer.app.temporaryPath or tempfile.gettempdir()

    def segmentationJob(self, p, onProgress=None, onLog=None):
        from MLNNetLib.scene.jobs import segmentation_job

        return segmentation_job(
            p.inputVolume, _pathOf(p.modelPath), p.outputSegmentation, selection=p.selectionMethod, device=p.device,
            tile=int(p.tileSize), overlap=float(p.overlap), roi_node=p.roi, probability=p.probabilityVolume or False,
            temp_root=self.tempRoot(), on_progress=onProgress, on_log=onLog,
        )

    def labelPoints(self, p):
        from MLNNetLib.scene import label_points

        return label_points(p.inputVolume, p.referencePoints, p.referenceSegmentation, p.referenceSegmentName, level_fraction=float(p.levelFraction))

    def evaluationJob(self, p, referenceNode, referenceSegment, predictedNode, predictedSegment, onProgress=None, onLog=None):
        from MLNNetLib.scene.jobs import evaluation_job

        return evaluation_job(referenceNode, referenceSegment, predictedNode, predictedSegment, p.inputVolume,
                              table_node=p.evaluationTable, temp_root=self.tempRoot(), on_progress=onProgress, on_log=onLog)

    def quantificationJob(self, p, segmentationNode, segmentId, onProgress=None, onLog=None):
        from MLNNetLib.scene.jobs import quantification_job

        return quantification_job(p.inputVolume, segmentationNode, segmentId, temp_root=self.tempRoot(),
                                  on_progress=onProgress, on_log=onLog)

    def classificationJob(self, p, onProgress=None, onLog=None):
        from MLNNetLib.scene.jobs import classification_job, features_from_table

        features = features_from_table(p.featuresTable)
        name = p.featuresTable.GetName().removesuffix(" image features")
        return classification_job(features, _pathOf(p.classifierPath), slicer.mrmlScene, name=name,
                                  temp_root=self.tempRoot(), on_progress=onProgress, on_log=onLog)


class MLNNetTest(ScriptedLoadableModuleTest):
    """Runs inside real Slicer: a synthetic mammogram, a tiny model trained on the fly, every section once,
    segmentation through the same qt.QProcess path as the Segment button."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        from MLNNetModuleLib.dependencies import self_test_skip_reason

        problem = environment.version_problem((slicer.app.majorVersion, slicer.app.minorVersion), sys.version_info[:2])
        reason = problem or self_test_skip_reason()
        if reason:  # a fresh Slicer without torch yet: say why and stop, do not fail
            logging.warning(reason)
            self.delayDisplay(reason)
            return
        self.setUp()
        self.test_MLNNet_endToEnd()

    def _run(self, job, timeoutSeconds: int = 900):
        """Start ``job`` with the module's QProcess adapter and block until it ends (test only: the module
        itself never waits; QProcess delivers its output and finished signal inside waitForFinished)."""
        outcome = {}
        process = QtProcess(job, lambda result: outcome.update(result=result))
        job.start(process)
        if not process.process.waitForFinished(timeoutSeconds * 1000):
            job.cancel()
            process.process.waitForFinished(60000)
        return outcome["result"]

    def test_MLNNet_endToEnd(self) -> None:
        import numpy as np
        from scipy import ndimage

        from MLNNetLib.image import Geometry, Image
        from MLNNetLib.scene import add_point_list, add_volume_from_image, ijk_to_ras, segment_names, segment_to_array
        from MLNNetModuleLib import testdata

        self.delayDisplay("Training a tiny model on a synthetic mammogram")
        work = tempfile.mkdtemp(prefix="MLNNetTest")
        ckptPath = testdata.tiny_checkpoint(work, steps=10)
        image, mask, spacing = testdata.synthetic_case()
        volume = add_volume_from_image(slicer.mrmlScene, Image(image, Geometry.identity((spacing, spacing))), "synthetic mammogram")

        logic = MLNNetLogic()
        p = logic.getParameterNode()
        p.inputVolume = volume
        p.modelPath = str(ckptPath)

        self.delayDisplay("Reference labels from points")
        seg = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "labels")
        seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        labels, n = ndimage.label(mask)
        centres = np.array(ndimage.center_of_mass(mask, labels, range(1, n + 1))).round()
        p.referencePoints = add_point_list(slicer.mrmlScene, ijk_to_ras(volume, centres), name="calcifications")
        p.referenceSegmentation = seg
        results = logic.labelPoints(p)
        self.assertEqual(len(results), n)
        self.assertTrue(all(r.pixels > 0 for r in results))
        self.assertGreater(segment_to_array(seg, p.referenceSegmentName, volume).sum(), 0)

        self.delayDisplay("Cancelled segmentation leaves the scene unchanged")
        before = slicer.mrmlScene.GetNumberOfNodes()
        p.outputSegmentation = seg
        job = logic.segmentationJob(p)
        outcome = {}
        process = QtProcess(job, lambda o: outcome.update(o=o))
        job.start(process)
        job.cancel()  # what the Cancel button does
        process.process.waitForFinished(60000)  # test only: the module never waits
        self.assertEqual(outcome["o"].state, "cancelled")
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), before)
        self.assertEqual(list(segment_names(seg)), [p.referenceSegmentName])

        self.delayDisplay("Segment in the background, beside the reference labels")
        steps = []
        outcome = self._run(logic.segmentationJob(p, onProgress=steps.append))
        self.assertEqual(outcome.state, "finished", outcome.message)
        summary = outcome.result
        self.assertEqual(summary["segment_name"], "Microcalcifications (MLN-net)")
        self.assertEqual(len(summary["scores"]), 2)
        self.assertTrue(any(s.total > 0 for s in steps))
        self.assertEqual(list(segment_names(seg)), [p.referenceSegmentName, "Microcalcifications (MLN-net)"])

        self.delayDisplay("Evaluate and quantify in the background")
        outcome = self._run(logic.evaluationJob(p, seg, p.referenceSegmentName, seg, summary["segment_id"]))
        self.assertEqual(outcome.state, "finished", outcome.message)
        metrics, table = outcome.result
        self.assertIn("dice", metrics)
        self.assertGreater(table.GetTable().GetNumberOfRows(), 5)
        outcome = self._run(logic.quantificationJob(p, seg, p.referenceSegmentName))
        self.assertEqual(outcome.state, "finished", outcome.message)
        _, labelled = ndimage.label(segment_to_array(seg, p.referenceSegmentName, volume))
        self.assertEqual(outcome.result["n_calcifications"], labelled)
        self.delayDisplay("MLNNet self-test passed")
