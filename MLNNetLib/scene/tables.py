"""vtkMRMLTableNode from plain Python rows or a dict, so any MLNNetLib result (metrics, per-calcification
measurements, image features) shows up as a Slicer table without table code of its own."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "int"
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) for v in present):
        return "double"
    return "string"


def _new_array(kind: str, name: str) -> Any:
    import vtk

    array = {"int": vtk.vtkIntArray, "double": vtk.vtkDoubleArray, "string": vtk.vtkStringArray}[kind]()
    array.SetName(name)
    return array


def rows_table(scene: Any, rows: Sequence[Mapping[str, Any]], name: str = "MLNNet table", table_node: Any = None) -> Any:
    """One row per dict, one column per key (in order of first appearance). Missing numbers become NaN."""
    import vtk

    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    node = table_node if table_node is not None else scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table = vtk.vtkTable()
    for col in columns:
        values = [row.get(col) for row in rows]
        kind = _kind(values)
        array = _new_array(kind, col)
        for v in values:
            if kind == "string":
                array.InsertNextValue("" if v is None else str(v))
            elif kind == "int":
                array.InsertNextValue(int(v) if v is not None else 0)
            else:
                array.InsertNextValue(math.nan if v is None else float(v))
        table.AddColumn(array)
    node.SetAndObserveTable(table)
    node.Modified()
    return node


def dict_table(
    scene: Any,
    values: Mapping[str, Any],
    name: str = "MLNNet values",
    units: Mapping[str, str] | None = None,
    table_node: Any = None,
) -> Any:
    """Two- (or three-) column table: name, value[, unit]; values are written as text so mixed types survive."""
    rows = []
    for key, value in values.items():
        if isinstance(value, (float, np.floating)):
            text = f"{float(value):.6g}"
        elif isinstance(value, (list, tuple, np.ndarray)):
            text = ", ".join(f"{float(v):.6g}" if isinstance(v, (float, np.floating)) else str(v) for v in value)
        else:
            text = str(value)
        row = {"name": str(key), "value": text}
        if units is not None:
            row["unit"] = units.get(key, "")
        rows.append(row)
    return rows_table(scene, rows, name, table_node)


def table_to_rows(table_node: Any) -> list[dict[str, Any]]:
    """Read a table node back as a list of dicts (numbers as float/int, text as str)."""
    table = table_node.GetTable()
    names = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        row = {}
        for c, col in enumerate(names):
            value = table.GetValue(r, c)
            if value.IsString():
                row[col] = value.ToString()
            elif value.IsInt() or value.IsLong() or value.IsLongLong():
                row[col] = value.ToInt()
            else:
                row[col] = value.ToDouble()
        rows.append(row)
    return rows
