"""Turning every kind of reference label into calcification masks, with the same code in the CLI, training and
Slicer: level tracing around points (``level_tracing``, ``points``), classical detection inside loose regions
(``regions``), and the explicit policy that chooses between them (``policy``)."""
