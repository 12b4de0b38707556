"""After a run the result is visible: segment shown, views on the largest cluster, tables in a table view.

Real slicer-core layout logic (it creates the view nodes of a layout, as in Slicer) on a headless scene.
"""

from __future__ import annotations

import numpy as np
import pytest

from MLNNetLib.image import Geometry, Image
from MLNNetLib.scene import add_mask_segment, add_volume_from_image, dict_table, ijk_to_ras, new_segmentation_node
from MLNNetLib.scene.views import largest_cluster, centre_views_on, show_segment, show_table


@pytest.fixture
def views(mrml):
    """The scene with the default layout's view nodes and one slice composite node per slice view."""
    import slicer

    layout_logic = slicer.vtkMRMLLayoutLogic()
    layout_logic.SetMRMLScene(mrml.scene)
    layout = layout_logic.GetLayoutNode()
    layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
    for i in range(mrml.scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        composite = slicer.vtkMRMLSliceCompositeNode()
        composite.SetLayoutName(mrml.scene.GetNthNodeByClass(i, "vtkMRMLSliceNode").GetLayoutName())
        mrml.scene.AddNode(composite)
    yield mrml, layout, layout_logic
    layout_logic.SetMRMLScene(None)


def _mask_with_two_clusters() -> np.ndarray:
    mask = np.zeros((400, 300), np.uint8)
    for r, c in [(50, 50), (50, 56), (56, 50), (56, 56), (53, 62), (62, 53)]:  # 6 calcifications
        mask[r : r + 2, c : c + 2] = 1
    for r, c in [(300, 200), (300, 206), (306, 200), (306, 206), (303, 212), (312, 203), (309, 215)]:  # 7
        mask[r : r + 2, c : c + 2] = 1
    mask[150:160, 250:262] = 1  # a big lone calcification: larger, but not a cluster
    return mask


def test_largest_cluster_is_the_one_with_most_calcifications():
    mask = _mask_with_two_clusters()
    spot = largest_cluster(mask, (0.07, 0.07))
    assert spot.clustered and spot.calcifications == 7
    rows, cols = np.nonzero(mask[295:320, 195:220])
    assert spot.index == pytest.approx((rows.mean() + 295, cols.mean() + 195))
    assert 0.7 < spot.extent_mm < 1.5
    # without any cluster the largest calcification is chosen; an empty mask gives nothing
    lone = np.zeros((100, 100), np.uint8)
    lone[10:12, 10:12] = 1
    lone[60:66, 70:75] = 1
    spot = largest_cluster(lone, (0.07, 0.07))
    assert not spot.clustered and spot.index == pytest.approx((62.5, 72.0))
    assert largest_cluster(np.zeros((50, 50)), (0.1, 0.1)) is None
    stack = np.zeros((3, 400, 300), np.uint8)
    stack[2] = mask
    spot3 = largest_cluster(stack, (1.0, 0.07, 0.07))
    assert spot3.index[0] == 2.0 and spot3.calcifications == 7


def test_show_segment_and_centre_the_views_on_the_largest_cluster(views):
    mrml, _, _ = views
    mask = _mask_with_two_clusters()
    geometry = Geometry((0.07, 0.07), (10.0, 20.0), (1.0, 0.0, 0.0, 1.0))
    volume = add_volume_from_image(mrml.scene, Image(np.zeros(mask.shape, np.float32), geometry), "mammo")
    seg = new_segmentation_node(mrml.scene, volume, "result")
    segment_id = add_mask_segment(seg, mask, volume)
    seg.GetDisplayNode().SetSegmentVisibility(segment_id, False)
    seg.GetDisplayNode().SetVisibility2DFill(False)

    show_segment(mrml.app_logic, volume, seg, segment_id)
    composites = [mrml.scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode") for i in range(3)]
    assert {c.GetBackgroundVolumeID() for c in composites} == {volume.GetID()}
    display = seg.GetDisplayNode()
    assert display.GetSegmentVisibility(segment_id) and display.GetVisibility2DFill() and display.GetVisibility()

    spot = largest_cluster(mask, (0.07, 0.07))
    ras = centre_views_on(mrml.scene, volume, spot)
    np.testing.assert_allclose(ras, ijk_to_ras(volume, np.array([spot.index]))[0])
    red = mrml.scene.GetFirstNodeByName("Red")
    slice_to_ras = red.GetSliceToRAS()
    np.testing.assert_allclose([slice_to_ras.GetElement(i, 3) for i in range(3)], ras, atol=1e-6)
    assert red.GetFieldOfView()[0] == pytest.approx(20.0)  # zoomed in to 2 cm around a ~1 mm cluster


def test_tables_are_shown_in_a_layout_with_a_table_view(views):
    mrml, layout, _ = views
    import slicer

    assert mrml.scene.GetNumberOfNodesByClass("vtkMRMLTableViewNode") == 0  # the four-up layout has none
    table = dict_table(mrml.scene, {"dice": 0.5}, "Evaluation")
    assert show_table(mrml.app_logic, table) is True
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView
    table_view = mrml.scene.GetFirstNodeByClass("vtkMRMLTableViewNode")
    assert table_view is not None and table_view.GetTableNodeID() == table.GetID()
    second = dict_table(mrml.scene, {"calc_num": 3}, "Features")
    assert show_table(mrml.app_logic, second) is False  # a table view is already shown: the layout stays
    assert table_view.GetTableNodeID() == second.GetID()
