"""Checks that turn unusable pixel data into an InputError naming the file, before any model sees it."""

from __future__ import annotations

import os

import numpy as np

from MLNNetLib.errors import InputError


def to_gray(array: np.ndarray, components: int, path: str | os.PathLike, warnings: list[str]) -> np.ndarray:
    """Collapse a multi-component (RGB/RGBA) array to gray, but only when it carries no colour.

    Screenshots and exported PNGs are often RGB with R == G == B; those are accepted as gray (a warning is
    recorded). Real colour, or any other component count, is refused: a mammogram is a single channel.
    """
    if components == 1:
        return array
    if components not in (3, 4):
        raise InputError(path, f"image has {components} components per pixel; expected a grayscale image")
    rgb = array[..., :3]
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        raise InputError(path, "colour (RGB) image; expected a grayscale mammogram (R, G and B differ)")
    if components == 4 and np.unique(array[..., 3]).size > 1:
        raise InputError(path, "RGBA image with a varying alpha channel; expected a grayscale mammogram")
    warnings.append("RGB image with equal channels read as grayscale")
    return np.ascontiguousarray(rgb[..., 0])


def check_size(array: np.ndarray, path: str | os.PathLike) -> None:
    """An image needs at least 2x2 pixels in plane to be anything but a placeholder."""
    if array.size == 0 or array.ndim < 2 or min(array.shape[-2:]) < 2:
        raise InputError(path, f"empty or 1-pixel image (shape {tuple(array.shape)})")


def check_finite(array: np.ndarray, path: str | os.PathLike) -> None:
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(path, f"{bad} pixel(s) are NaN or infinite")


def check_not_constant(array: np.ndarray, path: str | os.PathLike) -> None:
    """A constant image has no contrast to normalise; it is a blank export or a failed acquisition."""
    lo, hi = array.min(), array.max()
    if lo == hi:
        raise InputError(path, f"constant image (every pixel is {float(lo):g})")
