"""A vtkMRMLScene with the module logics MLNNet needs, for tests and scripts outside the Slicer application.

Inside Slicer use ``slicer.mrmlScene``: the application has already registered these logics.
"""

from __future__ import annotations

from typing import Any


class HeadlessScene:
    """Scene + application logic + Volumes, Segmentations, Tables and Markups logics (slicer-core, no Qt)."""

    def __init__(self) -> None:
        import slicer

        self.scene = slicer.vtkMRMLScene()
        self.app_logic = slicer.vtkSlicerApplicationLogic()
        self.app_logic.SetMRMLScene(self.scene)  # adds the selection and interaction singletons markups need
        self.logics: dict[str, Any] = {}
        for name, cls in (
            ("Volumes", slicer.vtkSlicerVolumesLogic),
            ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic),
            ("Tables", slicer.vtkSlicerTablesLogic),
            ("Markups", slicer.vtkSlicerMarkupsLogic),
        ):
            logic = cls()
            logic.SetMRMLScene(self.scene)
            logic.SetMRMLApplicationLogic(self.app_logic)
            self.app_logic.SetModuleLogic(name, logic)
            self.logics[name] = logic

    def nodes(self, class_name: str) -> list[Any]:
        """All nodes of one class, in scene order."""
        return [self.scene.GetNthNodeByClass(i, class_name) for i in range(self.scene.GetNumberOfNodesByClass(class_name))]

    def close(self) -> None:
        self.scene.Clear(True)
