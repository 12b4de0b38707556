"""MLNNet: MLN-net segmentation of clustered breast microcalcifications (FFDM and DBT) in 3D Slicer.

GUI only. Every computation is MLNNetLib's; the MRML side is MLNNetLib.scene (tested headless on
slicer-core). This file loads the .ui, binds it to a parameter node, shows progress / results and forwards
button clicks to the Logic, which forwards them to MLNNetLib.
"""


import json
import logging
import os
import pathlib
import sys
import tempfile
from typing import Annotated

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

MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
# MLNNetLib sits beside the module folder in the source tree and in the built extension's lib folder.
for _candidate in (os.path.dirname(MODULE_DIR), os.path.dirname(os.path.dirname(MODULE_DIR))):
    if os.path.isdir(os.path.join(_candidate, "MLNNetLib")) and _candidate not in sys.path:
        sys.path.insert(0, _candidate)

SELECTION_METHODS = ["cosine", "euclidean", "plus", "euclidean_plus", "standardized", "response", "union"]
DEVICES = ["cpu", "cuda"]


class MLNNet(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "MLNNet"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []
        self.parent.contributors = ["MLNNet developers (https://github.com/mlnnet/MLNNet)"]
        self.parent.helpText = (
            "Segments clustered breast microcalcifications in mammograms (FFDM) and tomosynthesis (DBT) with "
            "MLN-net, a Swin-Unet with one LayerNorm branch per augmented domain; the branch is chosen per image "
            "from recorded layer statistics and an out-of-distribution warning is shown when nothing fits. "
            "Also: reference labels from points (level tracing), evaluation against your labels (TPR, precision, "
            "DSC, HD, HD95, ASD in mm, lesion detection) and calcification/cluster quantification. "
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
    """Every setting the GUI edits; names match the .ui's SlicerParameterName properties."""

    inputVolume: vtkMRMLScalarVolumeNode
    roi: vtkMRMLMarkupsROINode
    modelPath: pathlib.Path
    outputSegmentation: vtkMRMLSegmentationNode
    selectionMethod: Annotated[str, Choice(SELECTION_METHODS)] = "cosine"
    device: Annotated[str, Choice(DEVICES)] = "cpu"
    tileSize: Annotated[int, WithinRange(0, 4096)] = 0  # 0 = the model's training tile
    overlap: Annotated[float, WithinRange(0.0, 0.9)] = 0.25
    probabilityVolume: vtkMRMLScalarVolumeNode
    referencePoints: vtkMRMLMarkupsFiducialNode
    referenceSegmentation: vtkMRMLSegmentationNode
    referenceSegmentName: str = "Reference calcifications"
    levelFraction: Annotated[float, WithinRange(0.1, 0.9)] = 0.5
    evaluationTable: vtkMRMLTableNode


class MLNNetWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._progress = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MLNNet.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = MLNNetLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.labelPointsButton.connect("clicked(bool)", self.onLabelPointsButton)
        self.ui.evaluateButton.connect("clicked(bool)", self.onEvaluateButton)
        self.ui.quantifyButton.connect("clicked(bool)", self.onQuantifyButton)
        self.ui.pointsSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.pointsPlaceWidget.setCurrentNode)
        self.ui.referenceSegmentSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.predictedSegmentSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.quantifySegmentSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.cancelButton.enabled = False
        self.ui.progressBar.hide()
        self.ui.oodWarningLabel.hide()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
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
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        p = self._parameterNode
        ready = bool(p and p.inputVolume and str(p.modelPath) not in ("", ".") and self._progress is None)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = "Segment microcalcifications" if ready else "Select an input volume and a model file"
        self.ui.labelPointsButton.enabled = bool(p and p.inputVolume and p.referencePoints and p.referenceSegmentation)

    # --- Segment -------------------------------------------------------------------------------------------
    def _makeProgress(self):
        from MLNNetLib.progress import Progress

        def update(done: int, total: int, message: str) -> None:
            self.ui.progressBar.maximum = max(total, 1)
            self.ui.progressBar.value = done
            self.ui.progressBar.format = f"{message} %v/%m" if message else "%v/%m"
            slicer.app.processEvents()  # keeps Slicer responsive and lets Cancel be clicked

        return Progress(update)

    def onApplyButton(self) -> None:
        from MLNNetLib.errors import Cancelled

        if not self.logic.ensureDependencies():
            return
        p = self._parameterNode
        self._progress = self._makeProgress()
        self.ui.progressBar.show()
        self.ui.cancelButton.enabled = True
        self.ui.applyButton.enabled = False
        self.ui.oodWarningLabel.hide()
        try:
            with slicer.util.tryWithErrorDisplay("MLN-net segmentation failed."):
                try:
                    summary = self.logic.segment(p, self._progress)
                except Cancelled:
                    self.ui.resultLabel.text = "Cancelled: the scene was not changed."
                    return
                self.showSummary(summary)
                if not p.outputSegmentation:
                    p.outputSegmentation = slicer.mrmlScene.GetNodeByID(summary["segmentation_node_id"])
        finally:
            self._progress = None
            self.ui.progressBar.hide()
            self.ui.cancelButton.enabled = False
            self._checkCanApply()

    def onCancelButton(self) -> None:
        if self._progress is not None:
            self._progress.cancel()

    def showSummary(self, summary: dict) -> None:
        scores = ", ".join(f"{s:.3f}" for s in summary.get("scores", []))
        branch = "union of all branches" if summary.get("branch") is None else f"branch {summary['branch']}"
        self.ui.resultLabel.text = (
            f"Segment '{summary['segment_name']}': {summary['foreground_pixels']} px; {branch} "
            f"({summary.get('selection')}); scores per branch: [{scores}]; {summary['seconds']:.1f} s"
        )
        self.ui.oodWarningLabel.setVisible(bool(summary.get("ood")))

    # --- Reference labels from points ---------------------------------------------------------------------
    def onLabelPointsButton(self) -> None:
        with slicer.util.tryWithErrorDisplay("Labelling points failed.", waitCursor=True):
            results = self.logic.labelPoints(self._parameterNode)
            done = [r for r in results if r.pixels > 0]
            notes = [f"point {r.index + 1}: {r.note}" for r in results if r.note]
            self.ui.labelPointsResultLabel.text = f"{len(done)} of {len(results)} points labelled. " + "; ".join(notes)

    # --- Evaluate ------------------------------------------------------------------------------------------
    def onEvaluateButton(self) -> None:
        with slicer.util.tryWithErrorDisplay("Evaluation failed.", waitCursor=True):
            ref_node = self.ui.referenceSegmentSelector.currentNode()
            pred_node = self.ui.predictedSegmentSelector.currentNode()
            metrics, table = self.logic.evaluate(
                self._parameterNode, ref_node, self.ui.referenceSegmentSelector.currentSegmentID(),
                pred_node, self.ui.predictedSegmentSelector.currentSegmentID(),
            )
            self._parameterNode.evaluationTable = table
            keys = ("tpr", "precision", "dice", "hd", "hd95", "asd", "lesion_sensitivity")
            self.ui.evaluationResultLabel.text = ", ".join(
                f"{k} {metrics[k]:.3f}" + (" mm" if k.startswith(("hd", "asd")) else "") for k in keys if metrics.get(k) is not None
            )
            slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
            slicer.app.applicationLogic().PropagateTableSelection()

    # --- Quantify ------------------------------------------------------------------------------------------
    def onQuantifyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay("Quantification failed.", waitCursor=True):
            out = self.logic.quantify(
                self._parameterNode, self.ui.quantifySegmentSelector.currentNode(), self.ui.quantifySegmentSelector.currentSegmentID()
            )
            self.ui.quantifyResultLabel.text = f"{out['n_calcifications']} calcifications, {out['n_clusters']} clusters"


class MLNNetLogic(ScriptedLoadableModuleLogic):
    """Calls MLNNetLib only; holds the loaded model between runs."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._checkpoint = None
        self._checkpointKey = None

    def getParameterNode(self):
        return MLNNetParameterNode(super().getParameterNode())

    @staticmethod
    def ensureDependencies() -> bool:
        import MLNNetDependencies

        try:
            return MLNNetDependencies.ensure_dependencies(lambda text: slicer.util.confirmOkCancelDisplay(text, "MLNNet dependencies"))
        except RuntimeError as exc:
            slicer.util.errorDisplay(str(exc), windowTitle="MLNNet dependencies")
            return False

    def loadModel(self, path: str | os.PathLike):
        """Load (and cache) a checkpoint; the cache is refreshed when the file changes."""
        from MLNNetLib.checkpoint import load_checkpoint

        path = os.fspath(path)
        key = (path, os.path.getmtime(path) if os.path.exists(path) else None)
        if key != self._checkpointKey:
            self._checkpoint = load_checkpoint(path)
            self._checkpointKey = key
        return self._checkpoint

    def segment(self, p, progress=None) -> dict:
        from MLNNetLib.inference import InferenceOptions
        from MLNNetLib.scene import segment_volume_node

        options = InferenceOptions(tile=int(p.tileSize) or None, overlap=float(p.overlap), device=p.device)
        ckpt = self.loadModel(p.modelPath)
        return segment_volume_node(
            ckpt, p.inputVolume, p.outputSegmentation, selection=p.selectionMethod, options=options,
            progress=progress, roi_node=p.roi, probability=p.probabilityVolume or False,
        )

    def labelPoints(self, p):
        from MLNNetLib.scene import label_points

        return label_points(p.inputVolume, p.referencePoints, p.referenceSegmentation, p.referenceSegmentName, level_fraction=float(p.levelFraction))

    def evaluate(self, p, referenceNode, referenceSegment, predictedNode, predictedSegment):
        from MLNNetLib.scene import evaluate_segments

        return evaluate_segments(referenceNode, referenceSegment, predictedNode, predictedSegment, p.inputVolume, table_node=p.evaluationTable)

    def quantify(self, p, segmentationNode, segmentId) -> dict:
        from MLNNetLib.scene.quantification import quantify_segment

        return quantify_segment(p.inputVolume, segmentationNode, segmentId)


class MLNNetTest(ScriptedLoadableModuleTest):
    """Runs inside real Slicer: a synthetic mammogram, a tiny model trained on the fly, every section once."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_MLNNet_endToEnd()

    def test_MLNNet_endToEnd(self) -> None:
        import numpy as np

        import MLNNetTestData
        from MLNNetLib.errors import Cancelled
        from MLNNetLib.image import Geometry, Image
        from MLNNetLib.progress import Progress
        from MLNNetLib.scene import add_point_list, add_volume_from_image, ijk_to_ras, segment_names, segment_to_array

        self.delayDisplay("Training a tiny model on a synthetic mammogram")
        work = tempfile.mkdtemp(prefix="MLNNetTest")
        ckptPath = MLNNetTestData.tiny_checkpoint(work, steps=10)
        image, mask, spacing = MLNNetTestData.synthetic_case()
        volume = add_volume_from_image(slicer.mrmlScene, Image(image, Geometry.identity((spacing, spacing))), "synthetic mammogram")

        logic = MLNNetLogic()
        p = logic.getParameterNode()
        p.inputVolume = volume
        p.modelPath = pathlib.Path(ckptPath)

        self.delayDisplay("Reference labels from points")
        seg = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "labels")
        seg.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        from scipy import ndimage

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
        cancelled = Progress()
        cancelled.cancel()
        p.outputSegmentation = seg
        with self.assertRaises(Cancelled):
            logic.segment(p, cancelled)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), before)
        self.assertEqual(list(segment_names(seg)), [p.referenceSegmentName])

        self.delayDisplay("Segment beside the reference labels")
        summary = logic.segment(p, Progress())
        self.assertEqual(summary["segment_name"], "Microcalcifications (MLN-net)")
        self.assertEqual(len(summary["scores"]), 2)
        self.assertEqual(list(segment_names(seg)), [p.referenceSegmentName, "Microcalcifications (MLN-net)"])
        logging.info("MLNNet self-test summary: %s", json.dumps({k: summary[k] for k in ("branch", "scores", "ood")}))

        self.delayDisplay("Evaluate and quantify")
        metrics, table = logic.evaluate(p, seg, p.referenceSegmentName, seg, summary["segment_id"])
        self.assertIn("dice", metrics)
        self.assertGreater(table.GetTable().GetNumberOfRows(), 5)
        out = logic.quantify(p, seg, p.referenceSegmentName)
        _, labelled = ndimage.label(segment_to_array(seg, p.referenceSegmentName, volume))
        self.assertEqual(out["n_calcifications"], labelled)
        self.delayDisplay("MLNNet self-test passed")
