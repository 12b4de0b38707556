"""Per-epoch metrics: a CSV a researcher can load anywhere, and a curves PNG a person can glance at."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from MLNNetLib.atomic import atomic_path, write_text

FIELDS = ["epoch", "step", "train_loss", "val_loss", "val_dice", "lr", "seconds"]
INT_FIELDS = ("epoch", "step")  # counts: read back as int, so a resumed run rewrites "3", not "3.0"


def _value(key: str, text: str | None) -> int | float | None:
    if text is None or text == "":
        return None
    return int(float(text)) if key in INT_FIELDS else float(text)


def read_history(path: Path) -> list[dict]:
    """The rows of metrics.csv with the types they were written with (ints for counts, floats otherwise)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [{k: _value(k, v) for k, v in row.items() if k is not None} for row in csv.DictReader(f)]


def write_history(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in FIELDS})
    write_text(path, buf.getvalue(), overwrite=True)


def plot_history(path: Path, rows: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    a.plot(epochs, [r["val_loss"] for r in rows], "s-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    b.plot(epochs, [r["val_dice"] for r in rows], "o-", color="tab:green")
    b.set_xlabel("epoch")
    b.set_ylabel("validation Dice (source domain)")
    b.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
