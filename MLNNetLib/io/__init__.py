"""Image I/O: every file format a user may bring, read into ``MLNNetLib.image.Image`` with honest geometry.

``read_image`` (DICOM MG/DBT file or series folder, NRRD, NIfTI, MHA, PNG, BMP, TIFF, PGM), ``read_mask``
(binary, geometry checked), ``write_image`` (atomic, format by extension) and ``image_info``.
Files without physical spacing get ``DEFAULT_SPACING_MM`` and a warning, never a silent 1 mm.

Decisions:
- DICOM spacing: PixelSpacing, else ImagerPixelSpacing (also in functional groups), else 0.05 mm + warning;
  SimpleITK's DICOM spacing is never used (GDCM ignores PixelSpacing for MG SOP classes, defaults to 1 mm).
- MONOCHROME1 -> MONOCHROME2 by ``lo + hi - v`` over the rescaled range of BitsStored, after the rescale;
  ``meta["photometric"]`` keeps the file's value.
- 2-D DICOM mammograms: origin 0, identity direction (projection images have no patient frame).
- DBT slice spacing: series -> positions, then SpacingBetweenSlices, SliceThickness; multi-frame ->
  SpacingBetweenSlices, SliceThickness, per-frame positions; else 1.0 mm + warning.
- A series folder must hold exactly one SeriesInstanceUID; slices are sorted along the slice normal.
- Rasters (PNG/BMP/TIFF/PGM) always get the default spacing + warning (TIFF resolution tags are not trusted).
  RGB(A) with R == G == B (and constant alpha) is read as gray with a warning; real colour is refused.
- NRRD/NIfTI/MHA: header spacing ("header"); exactly 1 mm in plane is kept but flagged as "often unset".
- A 3-D file with one slice is read as 2-D.
- Masks: any two-valued image {0, v} -> uint8 0/1; a mask without geometry (PNG) takes ``like``'s geometry
  when the shape matches (spacing_source "like"); otherwise shape, spacing (1e-6 rel), origin and direction
  (1e-6) must match ``like``.
- write_image refuses two-file formats (.mhd, .nhdr) since they cannot be renamed into place atomically.
"""

from MLNNetLib.io.defaults import DEFAULT_SLICE_SPACING_MM, DEFAULT_SPACING_MM
from MLNNetLib.io.info import image_info
from MLNNetLib.io.read import geometry_mismatch, read_image, read_mask
from MLNNetLib.io.write import write_image

__all__ = [
    "DEFAULT_SLICE_SPACING_MM",
    "DEFAULT_SPACING_MM",
    "geometry_mismatch",
    "image_info",
    "read_image",
    "read_mask",
    "write_image",
]
