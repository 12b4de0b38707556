"""Image sizes from file headers only (no pixel decoding), so ``prepare --check`` stays fast on 3000 cases."""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.errors import InputError


def header_reader(path: Path):
    """A SimpleITK reader that has read ``path``'s header (size, spacing), not its pixels."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputError(path, f"not a readable image file ({str(exc).strip().splitlines()[-1][:160]})") from None
    return reader


def image_shape(path: Path) -> tuple[int, ...]:
    """(rows, cols) or (slices, rows, cols) of an image file or DICOM series folder, from its header."""
    from MLNNetLib.io.dicom_tags import is_dicom_file, parse_header, read_header
    from MLNNetLib.io.generic import suffix_of

    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and is_dicom_file(p)]
        if not files:
            raise InputError(path, "folder holds no DICOM (Part-10) files")
        h = parse_header(read_header(files[0]), files[0])
        return (h.rows, h.columns) if len(files) == 1 and h.frames == 1 else (max(len(files), h.frames), h.rows, h.columns)
    if is_dicom_file(path) or suffix_of(path) in (".dcm", ".dicom"):
        h = parse_header(read_header(path), path)
        return (h.rows, h.columns) if h.frames == 1 else (h.frames, h.rows, h.columns)
    if suffix_of(path) in (".pgm", ".pnm"):
        from MLNNetLib.io.pgm import read_pgm

        return tuple(read_pgm(str(path)).shape[:2])
    size = tuple(int(s) for s in reversed(header_reader(path).GetSize()))
    return size[1:] if len(size) == 3 and size[0] == 1 else size


def label_shape_problem(image: Path, label: Path, kind: str) -> str | None:
    """Why ``label`` cannot be the label of ``image`` (size, unreadable points), or None."""
    try:
        shape = image_shape(image)
    except InputError as exc:
        return f"image unreadable: {exc.problem}"
    if kind == "points":
        from MLNNetLib.labels.points import points_mask_file, read_points

        try:
            points = read_points(label)
        except InputError as exc:
            return f"points file {label}: {exc.problem}"
        rows, cols = shape[-2:]
        outside = [p for p in points.tolist() if not (0 <= p[0] < rows and 0 <= p[1] < cols)]
        if outside:
            return f"points file {label}: {len(outside)} point(s) outside the {rows}x{cols} image, e.g. {outside[0]}"
        outlines = points_mask_file(label)
        if outlines is None:
            return None
        if not outlines.exists():
            return f"points file {label}: its outline mask {outlines} does not exist"
        label = outlines
    try:
        lshape = image_shape(label)
    except InputError as exc:
        return f"label unreadable: {exc.problem}"
    if tuple(lshape) != tuple(shape):
        return f"label {label} is {'x'.join(map(str, lshape))} px but image {image} is {'x'.join(map(str, shape))} px"
    return None
