"""Checkpoints: safetensors + JSON round trip, tamper/mismatch/overwrite refusals, optimizer state for resume."""

from __future__ import annotations

import json

import pytest
import torch

from MLNNetLib.checkpoint import (FORMAT, load_checkpoint, load_state, optimizer_from_state, optimizer_to_state,
                                  save_checkpoint, save_state)
from MLNNetLib.errors import InputError
from MLNNetLib.model import build_model, domain_norms
from MLNNetLib.selection import record_domain_statistics

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    with torch.no_grad():
        for _, norm in domain_norms(model):
            norm.weight.add_(0.3 * torch.randn(norm.weight.shape))
    x = torch.rand(4, 1, 64, 64)
    stats = record_domain_statistics(model, [(x, torch.tensor([0, 0, 1, 1]), torch.tensor([0.3, 0.3, 0.7, 0.7]))])
    stats.ood_thresholds["cosine"] = 50.0
    return model.eval(), stats, x


def _save(tmp_path, trained, name="m.safetensors", **kw):
    model, stats, _ = trained
    header = {"spacing_mm": [0.07, 0.07], "augmentation": {"curves": [[0.3, 0.7, 0.7, 0.3]]},
              "training": {"steps": 3}}
    return save_checkpoint(tmp_path / name, model, header, stats, **kw)


def test_round_trip_gives_identical_outputs_and_statistics(tmp_path, trained) -> None:
    model, stats, x = trained
    path = _save(tmp_path, trained)
    assert path.exists() and path.with_suffix(".json").exists()
    assert list(tmp_path.iterdir()) and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    ckpt = load_checkpoint(path)
    assert not ckpt.model.training and ckpt.num_domains == 2 and ckpt.config == model.config
    d = torch.tensor([1, 0, 1, 0])
    with torch.no_grad():
        assert torch.equal(ckpt.model(x, d), model(x, d))
    for name in stats.layers:
        assert torch.equal(ckpt.stats.mean(name), stats.mean(name))
    assert ckpt.stats.input_means() == stats.input_means()
    h = ckpt.header
    assert h["format"] == FORMAT and h["num_domains"] == 2 and h["spacing_mm"] == [0.07, 0.07]
    assert h["selection"]["ood_thresholds"] == {"cosine": 50.0} and ckpt.stats.ood_thresholds == {"cosine": 50.0}
    assert set(h["versions"]) >= {"torch", "timm", "MLNNetLib"} and len(h["sha256"]) == 64
    assert h["training"] == {"steps": 3} and h["augmentation"]["curves"] == [[0.3, 0.7, 0.7, 0.3]]
    # loading through the header's name works too
    assert load_checkpoint(path.with_suffix(".json")).path == path


def test_no_overwrite_unless_asked(tmp_path, trained) -> None:
    path = _save(tmp_path, trained)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        _save(tmp_path, trained)
    assert path.read_bytes() == before
    path.with_suffix(".json").unlink()  # a lone weights file still blocks a second save
    with pytest.raises(FileExistsError):
        _save(tmp_path, trained)
    _save(tmp_path, trained, overwrite=True)
    assert load_checkpoint(path).num_domains == 2


def test_tampered_weights_are_refused(tmp_path, trained) -> None:
    path = _save(tmp_path, trained)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sha256") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def _as_legacy(path):
    """Rewrite a checkpoint the way MLNNetLib did before headers were covered (no header copy in the weights)."""
    import hashlib

    from safetensors.torch import load_file
    from safetensors.torch import save as st_save

    data = st_save(load_file(str(path)), metadata={"format": FORMAT})
    path.write_bytes(data)
    jpath = path.with_suffix(".json")
    header = json.loads(jpath.read_text())
    jpath.write_text(json.dumps({**header, "sha256": hashlib.sha256(data).hexdigest()}))
    return header | {"sha256": hashlib.sha256(data).hexdigest()}


def test_edited_header_is_refused_naming_the_key(tmp_path, trained) -> None:
    # issue 13 item 7: the sha256 covered the weights only; spacing_mm edited by hand changed the resampling
    path = _save(tmp_path, trained)
    jpath = path.with_suffix(".json")
    header = json.loads(jpath.read_text())
    assert load_checkpoint(path).header["spacing_mm"] == [0.07, 0.07]
    jpath.write_text(json.dumps({**header, "spacing_mm": [0.14, 0.14]}, indent=2))
    with pytest.raises(InputError, match=r"m\.json.*changed after.*spacing_mm: \[0\.07, 0\.07\] when written, now \[0\.14, 0\.14\]"):
        load_checkpoint(path)
    jpath.write_text(json.dumps({**header, "training": {"steps": 4}}))
    with pytest.raises(InputError, match=r"training\.steps: 3 when written, now 4"):
        load_checkpoint(path)
    jpath.write_text(json.dumps(header, indent=7))  # only the layout changed: still the same header
    assert load_checkpoint(path).header["spacing_mm"] == [0.07, 0.07]


def test_mismatched_k_and_config_are_refused(tmp_path, trained) -> None:
    path = _save(tmp_path, trained)
    jpath = path.with_suffix(".json")
    header = json.loads(jpath.read_text())
    jpath.write_text(json.dumps({**header, "num_domains": 3}))
    with pytest.raises(InputError, match=r"num_domains: 2 when written, now 3"):
        load_checkpoint(path)
    # a checkpoint written before headers were covered still gets the shape diagnosis
    header = _as_legacy(path)
    jpath.write_text(json.dumps({**header, "num_domains": 3}))
    with pytest.raises(InputError, match=r"2 domain branches.*K=3"):
        load_checkpoint(path)
    jpath.write_text(json.dumps({**header, "config": {**header["config"], "embed_dim": 32, "num_heads": [2, 4, 8]}}))
    with pytest.raises(InputError, match="needs"):
        load_checkpoint(path)
    jpath.write_text(json.dumps({**header, "config": {**header["config"], "depths": [2, 2, 1]}}))
    with pytest.raises(InputError, match="unexpected"):
        load_checkpoint(path)


def test_missing_or_corrupt_files_are_refused(tmp_path, trained) -> None:
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "absent.safetensors")
    path = _save(tmp_path, trained)
    jpath = path.with_suffix(".json")
    text = jpath.read_text()
    jpath.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not valid JSON") as err:
        load_checkpoint(path)
    assert "m.json" in str(err.value)
    jpath.write_text(json.dumps({"format": FORMAT}))
    with pytest.raises(InputError, match="lacks"):
        load_checkpoint(path)
    jpath.unlink()
    with pytest.raises(InputError, match="header not found"):
        load_checkpoint(path)
    with pytest.raises(InputError, match=".safetensors"):
        save_checkpoint(tmp_path / "m.pt", trained[0], {})


def test_truncated_weights_with_matching_hash_are_refused(tmp_path, trained) -> None:
    import hashlib

    path = _save(tmp_path, trained)
    data = path.read_bytes()[:100]
    path.write_bytes(data)
    jpath = path.with_suffix(".json")
    header = json.loads(jpath.read_text())
    jpath.write_text(json.dumps({**header, "sha256": hashlib.sha256(data).hexdigest()}))
    with pytest.raises(InputError, match="safetensors"):
        load_checkpoint(path)


def test_checkpoint_without_statistics(tmp_path, trained) -> None:
    path = save_checkpoint(tmp_path / "basenet.safetensors", build_model("tiny", num_domains=1), {})
    ckpt = load_checkpoint(path)
    assert ckpt.stats is None and ckpt.num_domains == 1 and ckpt.header["has_statistics"] is False


def test_optimizer_state_round_trip_resumes_identically(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    x, d = torch.rand(2, 1, 64, 64), torch.tensor([0, 1])

    def step(m, o):
        o.zero_grad()
        m(x, d).square().mean().backward()
        o.step()

    step(model, opt)
    tensors, meta = optimizer_to_state(opt.state_dict())
    save_state(tmp_path / "optim.safetensors", tensors, {**meta, "epoch": 4})
    with pytest.raises(FileExistsError):
        save_state(tmp_path / "optim.safetensors", tensors, meta)
    t2, meta2 = load_state(tmp_path / "optim.safetensors")
    assert meta2["epoch"] == 4

    clone = build_model("tiny", num_domains=2)
    clone.load_state_dict(model.state_dict())
    opt2 = torch.optim.AdamW(clone.parameters(), lr=5.0)
    opt2.load_state_dict(optimizer_from_state(t2, meta2))
    assert opt2.param_groups[0]["lr"] == 1e-3 and tuple(opt2.param_groups[0]["betas"]) == (0.9, 0.99)
    step(model, opt)
    step(clone, opt2)
    for (n, a), b in zip(model.state_dict().items(), clone.state_dict().values()):
        assert torch.equal(a, b), n
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(InputError, match="junk"):
        load_state(tmp_path / "junk.safetensors")


def test_header_values_are_made_json_or_refused_before_writing(tmp_path, trained) -> None:
    import numpy as np

    model, stats, _ = trained
    path = save_checkpoint(tmp_path / "np.safetensors", model, {"spacing_mm": np.array([0.1, 0.1]),
                                                                 "training": {"loss": np.float32(0.5)}}, stats)
    assert load_checkpoint(path).header["spacing_mm"] == [0.1, 0.1]
    with pytest.raises(InputError, match="JSON"):
        save_checkpoint(tmp_path / "bad.safetensors", model, {"training": {"when": object()}})
    assert not (tmp_path / "bad.safetensors").exists() and not (tmp_path / "bad.json").exists()
