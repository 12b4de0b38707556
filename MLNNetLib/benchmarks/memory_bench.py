"""Peak memory (RSS) of whole-mammogram inference on CPU, measured in fresh child processes.

The parent writes a synthetic mammogram (NRRD) and a K=2 checkpoint with domain statistics to a temporary
folder, then starts two children with the same interpreter: ``baseline`` does everything the ``segment``
command does except the inference (imports, checkpoint load, image read), ``inference`` also runs
``segment_image`` (cosine selection). Each child reports its own high-water mark (VmHWM from
/proc/self/status, falling back to getrusage); the ratio peak/baseline shows what inference adds.
Target: peak <= 4 GB. Run a child by hand with ``python -m MLNNetLib.benchmarks.memory_bench --child ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from MLNNetLib.benchmarks import model_setup as ms
from MLNNetLib.errors import InputError

HELP = "Peak RSS of whole-mammogram CPU inference in a child process vs the same child without inference (target: <= 4 GB)."
TARGET_MB = 4096.0
PHASES = ("baseline", "inference")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from MLNNetLib.cli.args import positive_float, positive_int

    p.add_argument("--shape", type=int, nargs=2, default=ms.FULL_SHAPE, metavar=("ROWS", "COLS"),
                   help="synthetic mammogram size (default 3000 4600)")
    p.add_argument("--config", default="small", help="model config name (default small)")
    p.add_argument("--spacing", type=positive_float, default=ms.DEFAULT_SPACING_MM, help="pixel spacing in mm (default 0.07)")
    p.add_argument("--domain", default="ffdm", help="synthetic domain of the image (default ffdm)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="tiles per forward (default 4)")
    p.add_argument("--overlap", type=float, default=0.25, help="sliding-window overlap (default 0.25)")
    p.add_argument("--stat-tiles", type=int, default=4, help="tissue tiles per domain for the statistics (default 4)")
    p.add_argument("--seed", type=int, default=0)


def peak_rss_mb() -> tuple[float, str]:
    """This process's peak resident set size in MiB and where the number came from."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0, "VmHWM"
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return (rss / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)), "ru_maxrss"


def child_main(argv: list[str] | None = None) -> int:
    """One measured phase; prints one JSON line with the peak RSS."""
    p = argparse.ArgumentParser(prog="python -m MLNNetLib.benchmarks.memory_bench")
    p.add_argument("--child", choices=PHASES, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--overlap", type=float, default=0.25)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference import InferenceOptions, segment_image
    from MLNNetLib.io import read_image

    ckpt = load_checkpoint(a.model)
    image = read_image(a.image)
    out = {"phase": a.child, "image_shape": list(image.array.shape)}
    if a.child == "inference":
        res = segment_image(ckpt, image, "cosine", InferenceOptions(batch_size=a.batch_size, overlap=a.overlap))
        out.update(tiles=res.tiles, skipped_tiles=res.skipped_tiles, branch=res.branch,
                   foreground_pixels=int(res.mask.sum()), inference_seconds=res.seconds)
    out["peak_mb"], out["peak_source"] = peak_rss_mb()
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out), flush=True)
    return 0


def run_child(phase: str, model: Path, image: Path, args: argparse.Namespace) -> dict:
    """Start one child phase and return its JSON report.

    The child measures itself (VmHWM is per address space and starts afresh at exec); the parent's
    RUSAGE_CHILDREN would also count the pages the child shared with this parent between fork and exec.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ms.package_root())] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "MLNNetLib.benchmarks.memory_bench", "--child", phase, "--model", str(model),
           "--image", str(image), "--batch-size", str(args.batch_size), "--overlap", str(args.overlap)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise InputError(None, f"memory benchmark child {phase!r} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise InputError(None, f"memory benchmark child {phase!r} printed no JSON: {proc.stdout[-500:]}")
    return json.loads(lines[-1])


def run(args: argparse.Namespace) -> dict:
    load_start = [round(v, 2) for v in os.getloadavg()]
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.io import write_image

    with tempfile.TemporaryDirectory(prefix="mlnnet_memory_") as tmp:
        image = ms.synthetic_image(tuple(args.shape), args.seed, args.domain, args.spacing)
        image_path = write_image(image.array, image.geometry, Path(tmp) / "image.nrrd")
        ck = ms.make_checkpoint(args.config, 2, image, args.seed, args.stat_tiles)
        model_path = save_checkpoint(Path(tmp) / "model.safetensors", ck.model, ck.header, ck.stats)
        config_name = ck.model.config.name
        del image, ck
        base = run_child("baseline", model_path, image_path, args)
        infer = run_child("inference", model_path, image_path, args)
    peak, baseline = float(infer["peak_mb"]), float(base["peak_mb"])
    return {
        "shape": list(args.shape), "config": config_name, "batch_size": args.batch_size, "overlap": args.overlap,
        "peak_mb": peak, "baseline_mb": baseline, "inference_adds_mb": peak - baseline,
        "peak_source": infer["peak_source"], "tiles": infer.get("tiles"), "skipped_tiles": infer.get("skipped_tiles"),
        "branch": infer.get("branch"), "inference_seconds": infer.get("inference_seconds"),
        "baseline_child": base, "inference_child": infer, "machine": ms.machine(), "load_average_at_start": load_start,
        "ratio": peak / baseline if baseline > 0 else float("inf"),
        "target": f"peak_mb <= {TARGET_MB:g} (ratio = peak_mb / baseline_mb: what inference adds)",
        "meets_target": bool(peak <= TARGET_MB),
    }


if __name__ == "__main__":
    sys.exit(child_main())
