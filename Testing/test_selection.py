"""Domain statistics (exact per-domain moments of every norm input) and branch selection on a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.model import build_model, domain_norms
from MLNNetLib.selection import (DomainStatistics, calibrate_ood, ideal_score, record_domain_statistics,
                                 select_branch)

torch.set_num_threads(1)


def _tissue(seed: int, n: int, inverted: bool) -> torch.Tensor:
    """Smooth dark 'tissue' tiles (source-similar) or their grey-level inversion (source-dissimilar)."""
    rng = np.random.default_rng(seed)
    tiles = []
    for _ in range(n):
        t = ndimage.gaussian_filter(rng.random((64, 64)), 3)
        img = 0.15 + 0.3 * (t - t.min()) / (t.max() - t.min())
        tiles.append(1 - img if inverted else img)
    return torch.tensor(np.array(tiles), dtype=torch.float32)[:, None]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # distinct branches, as after training
        for _, norm in domain_norms(model):
            norm.weight.add_(0.2 * torch.randn(norm.weight.shape, generator=g))
            norm.bias.add_(0.2 * torch.randn(norm.bias.shape, generator=g))
    dark, bright = _tissue(0, 6, False), _tissue(1, 6, True)
    x = torch.cat([dark, bright])
    d = torch.tensor([0] * 6 + [1] * 6)
    means = torch.tensor([float(v.mean()) for v in x])
    stats = record_domain_statistics(model, [(x[:5], d[:5], means[:5]), (x[5:], d[5:], means[5:])])
    return model, stats, dark, bright


def test_statistics_equal_a_direct_computation(setup) -> None:
    model, stats, dark, bright = setup
    x = torch.cat([dark, bright])
    d = torch.tensor([0] * 6 + [1] * 6)
    captured: dict[str, list] = {}
    handles = [norm.register_forward_hook(lambda m, args, out, n=name: captured.setdefault(n, []).append(args[0]))
               for name, norm in domain_norms(model)]
    with torch.no_grad():
        model.eval()(x, d)
    for h in handles:
        h.remove()
    assert set(captured) == set(stats.layers)
    for name, (inp,) in captured.items():
        a = inp.double().reshape(inp.shape[0], -1, inp.shape[-1])
        for k in (0, 1):
            tokens = a[d == k].reshape(-1, a.shape[-1]).numpy()
            np.testing.assert_allclose(stats.mean(name)[k].numpy(), tokens.mean(0), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(stats.std(name)[k].numpy(), tokens.std(0), rtol=1e-5, atol=1e-6)
    # first norm's input computed independently of any hook: the patch projection of the raw tiles
    with torch.no_grad():
        emb = model.patch_embed.proj(dark).permute(0, 2, 3, 1).double().reshape(-1, 16).numpy()
    np.testing.assert_allclose(stats.mean("patch_embed.norm")[0].numpy(), emb.mean(0), rtol=1e-6, atol=1e-7)
    assert stats.domain_counts() == [6 * 16 * 16, 6 * 16 * 16]
    assert stats.input_means()[0] == pytest.approx(float(dark.mean()), abs=1e-6)
    assert stats.input_means()[1] == pytest.approx(float(bright.mean()), abs=1e-6)


def test_statistics_are_recorded_in_eval_mode_and_restore_training_mode(setup) -> None:
    model = build_model("tiny", num_domains=1).train()
    model.pos_drop.p = 0.9  # dropout would change the statistics if the pass ran in training mode
    x = torch.rand(2, 1, 64, 64)
    s1 = record_domain_statistics(model, [(x, torch.zeros(2, dtype=torch.long))])
    s2 = record_domain_statistics(model, [(x, torch.zeros(2, dtype=torch.long))])
    assert model.training
    for name in s1.layers:
        assert torch.equal(s1.layers[name].sum, s2.layers[name].sum)


@pytest.mark.parametrize("method", ["cosine", "euclidean", "plus", "euclidean_plus"])
def test_each_kind_of_image_selects_its_own_branch(setup, method: str) -> None:
    model, stats, _, _ = setup
    for seed, inverted, expected in ((10, False, 0), (11, True, 1), (12, False, 0), (13, True, 1)):
        tiles = _tissue(seed, 3, inverted)
        sel = select_branch(model, tiles, stats, method, input_mean=float(tiles.mean()))
        assert sel.branch == expected, (method, inverted, sel.scores)
        best = max(sel.scores) if sel.higher_is_better else min(sel.scores)
        assert sel.scores[expected] == best
        assert sel.tiles == 3 and sel.method == method


def test_cosine_of_the_recorded_images_is_perfect(setup) -> None:
    model, stats, dark, _ = setup
    sel = select_branch(model, dark, stats, "cosine")
    # selection statistics on the very images of domain 0 equal the recorded ones: every cosine is 1
    assert sel.scores[0] == pytest.approx(ideal_score(stats, "cosine"), abs=1e-9)


def test_union_selects_nothing_but_reports_scores(setup) -> None:
    model, stats, _, bright = setup
    sel = select_branch(model, bright[:2], stats, "union")
    assert sel.branch is None and len(sel.scores) == 2 and sel.scores[1] > sel.scores[0]
    assert json.loads(json.dumps(sel.to_dict()))["branch"] is None


def test_selection_is_one_batched_forward_of_k_copies(setup) -> None:
    model, stats, dark, _ = setup
    calls = []
    h = model.register_forward_pre_hook(lambda m, args: calls.append((args[0].shape[0], args[1].tolist())))
    try:
        select_branch(model, dark[:3], stats, "cosine")
    finally:
        h.remove()
    assert calls == [(6, [0, 0, 0, 1, 1, 1])]


def test_ood_flags_images_unlike_any_training_domain(setup) -> None:
    model, stats, dark, bright = setup
    stats = DomainStatistics.from_tensors(stats.to_tensors())  # private copy: calibration stores thresholds
    thr = calibrate_ood(model, stats, [dark[:3], dark[3:], bright[:3], bright[3:]], method="cosine")
    assert stats.ood_thresholds["cosine"] == thr < ideal_score(stats, "cosine")
    assert not select_branch(model, _tissue(20, 3, False), stats).ood
    assert not select_branch(model, _tissue(21, 3, True), stats).ood
    noise = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    checker = torch.zeros(3, 1, 64, 64)
    checker[..., ::2, ::2] = 1
    for tiles in (noise, checker):
        sel = select_branch(model, tiles, stats)
        assert sel.ood and sel.threshold == thr
    thr_e = calibrate_ood(model, stats, [dark[:3], bright[:3]], method="euclidean")
    assert thr_e > 0 and select_branch(model, checker, stats, "euclidean").ood


def test_statistics_tensor_round_trip_and_mismatch(setup) -> None:
    model, stats, _, _ = setup
    stats.ood_thresholds["cosine"] = 12.5
    back = DomainStatistics.from_tensors(stats.to_tensors())
    del stats.ood_thresholds["cosine"]
    assert back.num_domains == 2 and back.ood_thresholds == {"cosine": 12.5}
    assert back.input_means() == stats.input_means()
    for name in stats.layers:
        assert torch.equal(back.mean(name), stats.mean(name)) and torch.equal(back.std(name), stats.std(name))
    with pytest.raises(InputError, match="3"):
        back.check_matches(build_model("tiny", num_domains=3))
    with pytest.raises(InputError, match="norms"):
        back.check_matches(build_model("tiny-stem", num_domains=2))


def test_plus_without_recorded_means_and_bad_inputs_are_refused(setup) -> None:
    model, _, dark, _ = setup
    stats = record_domain_statistics(model, [(dark, torch.tensor([0, 0, 0, 1, 1, 1]))])
    assert stats.input_means() == [None, None]
    with pytest.raises(InputError, match="no branch"):
        select_branch(model, dark[:2], stats, "plus", input_mean=0.3)
    with pytest.raises(InputError, match="unknown selection method"):
        select_branch(model, dark[:2], stats, "manhattan")
    with pytest.raises(InputError, match="non-empty"):
        select_branch(model, dark[:0], stats)
    with pytest.raises(InputError, match="no batches"):
        record_domain_statistics(model, [])


def test_unrecorded_domain_gets_no_score(setup) -> None:
    model, _, dark, _ = setup
    stats = record_domain_statistics(model, [(dark, torch.zeros(6, dtype=torch.long))])
    sel = select_branch(model, dark[:2], stats)
    assert sel.branch == 0 and sel.scores[1] is None and sel.to_dict()["scores"][1] is None


def test_numpy_float64_tiles_select_like_tensors(setup) -> None:
    model, stats, _, bright = setup
    a = select_branch(model, bright[:2], stats, "euclidean")
    b = select_branch(model, bright[:2].double().numpy(), stats, "euclidean")
    assert a.branch == b.branch == 1
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_standardized_distance_is_in_units_of_the_domain_spread():
    from MLNNetLib.selection.branch import standardized_distance

    mu, sd = torch.tensor([0.0, 10.0]), torch.tensor([1.0, 5.0])
    assert standardized_distance(mu, sd, mu, sd) == 0.0
    # each channel's mean moved by one of its own standard deviations -> 1, whatever the channel's scale
    assert standardized_distance(mu + sd, sd, mu, sd) == pytest.approx(1.0)
    assert standardized_distance(mu, 2 * sd, mu, sd) == pytest.approx(1.0)


def test_every_selection_method_is_offered_on_the_command_line():
    from MLNNetLib.cli.segment_cmd import SELECTIONS
    from MLNNetLib.selection import METHODS

    assert set(SELECTIONS) == set(METHODS)


def test_response_selection_picks_the_branch_that_responds_and_defaults_to_branch_0_on_a_tie():
    from MLNNetLib.selection import select_branch
    from MLNNetLib.selection.branch import branch_responses

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2).eval()
    tiles = torch.rand(4, 1, 64, 64)
    stats = record_domain_statistics(model, [(tiles, torch.tensor([0, 0, 1, 1]))])
    # identical branches respond identically: no evidence, keep the source-similar branch
    r = branch_responses(model, tiles)
    assert r[0] == pytest.approx(r[1])
    assert select_branch(model, tiles, stats, "response").branch == 0
    # make branch 1 light up: a large bias on its last norm, read by a head with positive weights
    name, last = domain_norms(model)[-1]
    with torch.no_grad():
        model.head.weight.fill_(0.5)
        last.bias[1].fill_(3.0)
    r = branch_responses(model, tiles)
    assert r[1] > r[0] + 0.1
    sel = select_branch(model, tiles, stats, "response")
    assert sel.branch == 1 and sel.scores == pytest.approx(r)
