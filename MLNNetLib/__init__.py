"""MLNNetLib: the computing half of MLNNet (MLN-net microcalcification segmentation).

Everything that computes lives here; the 3D Slicer module in ../MLNNet only draws the UI and calls into
this package. Nothing in this package imports qt or slicer except ``scene`` (lazily).
"""

__version__ = "0.1.0"
