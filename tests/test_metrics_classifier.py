"""The evaluation classifier: accuracy, deterministic training, the definition-keyed atomic cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from harness.config.resolve import parse_experiment, resolve_run
from harness.data import load_dataset
from harness.core.errors import UserError
from harness.metrics import classifier
from harness.metrics.classifier import (
    ClassifierSpec,
    EarlyStopping,
    EvalClassifier,
    augment,
    batches,
    cache_path,
    definition,
    load_or_train,
    random_shift,
    require_accuracy,
    train_classifier,
)

from tests.conftest import TINY

CPU = torch.device("cpu")
QUICK = ClassifierSpec(steps=30, check_every_steps=10)  # for tests of the machinery, not of accuracy


def digits(size: int | None = None) -> object:
    exp = parse_experiment({"name": "t", "data": {"name": "digits", "image_size": size},
                            "sweep": {"trials_per_variant": 1}})
    return load_dataset(resolve_run(exp, "wgan_gp").data, CPU)


@pytest.fixture(scope="session")
def shared_cache() -> Path:
    """The suite's classifier cache (conftest's TINY configs use it too): each digits classifier trains once."""
    return Path(TINY["eval"]["cache_dir"])


@pytest.mark.parametrize("size", [None, 16])
def test_digits_classifier_is_well_above_chance(shared_cache: Path, size: int | None) -> None:
    trained = load_or_train(digits(size), shared_cache, ClassifierSpec())
    assert trained.test_accuracy >= 0.97 and trained.val_accuracy >= 0.95
    assert 0 < trained.steps <= ClassifierSpec().steps


def test_training_is_bitwise_repeatable_and_leaves_global_state_alone() -> None:
    ds = digits()
    torch.manual_seed(123)
    rng_before = torch.get_rng_state()
    first = train_classifier(QUICK, ds.images, ds.labels, 10).model.state_dict()
    second = train_classifier(QUICK, ds.images, ds.labels, 10).model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.is_grad_enabled()


def test_training_works_under_no_grad() -> None:
    ds = digits()
    with torch.no_grad():  # the Evaluator calls metrics under no_grad
        model = train_classifier(QUICK, ds.images, ds.labels, 10).model
    assert any(p.abs().sum() > 0 for p in model.parameters())


def test_a_cache_hit_reloads_the_same_weights(tmp_path: Path) -> None:
    ds = digits()
    first = load_or_train(ds, tmp_path, QUICK)
    rng_before = torch.get_rng_state()
    second = load_or_train(ds, tmp_path, QUICK)
    assert torch.equal(torch.get_rng_state(), rng_before)  # a warm cache draws no random numbers either
    assert first.trained_now and not second.trained_now
    assert second.test_accuracy == first.test_accuracy
    state1, state2 = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(state1[k], state2[k]) for k in state1)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary file left behind
    payload = torch.load(first.path, weights_only=True)
    assert payload["test_accuracy"] == first.test_accuracy


def test_the_cache_key_covers_dataset_data_size_architecture_and_hyperparameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = definition(QUICK, "digits", 8, 10)
    keys = {cache_path(tmp_path, base),
            cache_path(tmp_path, definition(QUICK, "digits", 16, 10)),
            cache_path(tmp_path, definition(QUICK, "mnist", 8, 10)),
            cache_path(tmp_path, definition(dataclasses.replace(QUICK, lr=1e-3), "digits", 8, 10)),
            cache_path(tmp_path, definition(dataclasses.replace(QUICK, width=16), "digits", 8, 10)),
            cache_path(tmp_path, definition(dataclasses.replace(QUICK, hflip=True), "digits", 8, 10)),
            cache_path(tmp_path, definition(QUICK, "digits", 8, 10, fingerprint="0123456789abcdef"))}
    assert len(keys) == 7
    assert cache_path(tmp_path, base) == cache_path(tmp_path, definition(QUICK, "digits", 8, 10))
    assert cache_path(tmp_path, base).name.startswith("eval-classifier-digits-8px-")
    monkeypatch.setattr(classifier, "pool_stages", lambda side: 2)  # an edit of the network alone
    assert cache_path(tmp_path, definition(QUICK, "digits", 8, 10)) != cache_path(tmp_path, base)


def test_a_corrupt_cache_file_is_retrained_with_a_one_line_warning(tmp_path: Path, capsys) -> None:
    ds = digits()
    path = load_or_train(ds, tmp_path, QUICK).path
    capsys.readouterr()
    path.write_bytes(b"not a torch file")
    again = load_or_train(ds, tmp_path, QUICK)
    err = capsys.readouterr().err
    assert again.trained_now and err.count("\n") == 1
    assert err.startswith(f"warning: {path}: unreadable evaluation classifier (UnpicklingError); retraining")
    assert not load_or_train(ds, tmp_path, QUICK).trained_now and capsys.readouterr().err == ""


@pytest.mark.parametrize("payload", [torch.zeros(3), [1, 2], {"definition": 7}, {"definition": None, "x": 1}])
@pytest.mark.filterwarnings("error")  # a Python warning would print two more lines
def test_a_cache_file_of_other_contents_is_retrained_not_a_traceback(payload, tmp_path: Path, capsys) -> None:
    ds = digits()
    path = load_or_train(ds, tmp_path, QUICK).path
    capsys.readouterr()
    torch.save(payload, path)  # loads weights-only, but is not the classifier's dict
    assert load_or_train(ds, tmp_path, QUICK).trained_now
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"warning: {path}: ")


def test_a_file_of_another_definition_is_not_trusted(tmp_path: Path, capsys) -> None:
    ds = digits()
    path = load_or_train(ds, tmp_path, QUICK).path
    other = load_or_train(ds, tmp_path / "other", dataclasses.replace(QUICK, seed=1)).path
    path.write_bytes(other.read_bytes())  # same name, different content
    assert load_or_train(ds, tmp_path, QUICK).trained_now
    assert "its stored definition differs from the expected one; retraining" in capsys.readouterr().err


def test_low_accuracy_is_refused_with_a_one_line_user_error() -> None:
    require_accuracy("digits", 0.97, 0.97)
    with pytest.raises(UserError, match=r"^eval.classifier_min_accuracy: .*digits reaches 50.0% .* below the 97.0%") as info:
        require_accuracy("digits", 0.5, 0.97)
    assert "\n" not in str(info.value)


def test_random_shift_translates_by_at_most_the_limit_and_fills_black() -> None:
    x = torch.full((64, 1, 8, 8), -1.0)
    x[:, 0, 4, 4] = 1.0
    g = torch.Generator().manual_seed(0)
    out = random_shift(x, 1, g)
    assert torch.equal(random_shift(x, 0, g), x)
    assert (out == 1.0).flatten(1).sum(1).tolist() == [1] * 64  # the bright pixel moved, not duplicated
    rows, cols = (out[:, 0] == 1.0).nonzero()[:, 1], (out[:, 0] == 1.0).nonzero()[:, 2]
    assert set(rows.tolist()) == {3, 4, 5} and set(cols.tolist()) == {3, 4, 5}
    assert ((out == 1.0) | (out == -1.0)).all()


@pytest.mark.parametrize("side", [8, 14, 16, 28, 32])
def test_the_classifier_accepts_every_supported_image_size(side: int) -> None:
    model = EvalClassifier(side, QUICK, num_classes=10)
    features, logits = model(torch.zeros(3, 1, side, side))
    assert features.shape == (3, QUICK.features) and logits.shape == (3, 10)


def test_the_step_budget_does_not_depend_on_the_dataset_size() -> None:
    g = torch.Generator().manual_seed(0)
    for count in (10, 1000, 100_000):
        drawn = list(batches(count, 64, 50, g))
        assert len(drawn) == 50 and all(0 < b.numel() <= 64 for b in drawn)
    first_epoch = torch.cat(list(batches(100, 64, 2, g)))
    assert sorted(first_epoch.tolist()) == list(range(100))  # one shuffle, no repeats within it


def test_early_stopping_keeps_the_best_weights_and_stops_after_the_patience() -> None:
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        assert not stopper.update(100, 0.5, model)
        model.weight.fill_(2.0)
        assert not stopper.update(200, 0.9, model)  # better: its weights are kept
        model.weight.fill_(3.0)
        assert not stopper.update(300, 0.9, model)  # a tie is no gain
        assert stopper.update(400, 0.8, model)  # second check without a gain: stop
    assert (stopper.best_accuracy, stopper.best_step) == (0.9, 200)
    assert float(stopper.best_state["weight"]) == 2.0


def test_training_stops_early_and_restores_the_best_validation_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = digits()
    spec = ClassifierSpec(steps=1000, check_every_steps=20, patience_checks=1)
    fitted = train_classifier(spec, ds.images, ds.labels, 10)
    assert fitted.steps < 1000 and fitted.best_step <= fitted.steps and fitted.best_step % 20 == 0
    val_x, val_y = classifier.split_validation(spec, ds.images.cpu(), ds.labels.cpu())[2:]
    assert classifier.accuracy(fitted.model, val_x, val_y) == fitted.val_accuracy


def test_the_validation_split_is_stratified_and_disjoint_from_training() -> None:
    ds = digits()
    train_x, train_y, val_x, val_y = classifier.split_validation(ClassifierSpec(), ds.images, ds.labels)
    assert train_x.shape[0] + val_x.shape[0] == ds.images.shape[0]
    assert abs(val_x.shape[0] - 0.1 * ds.images.shape[0]) <= 10 and val_y.unique().numel() == 10
    pooled = torch.cat([train_x, val_x]).flatten(1)
    assert torch.unique(pooled, dim=0).shape[0] == torch.unique(ds.images.flatten(1), dim=0).shape[0]


def test_mirroring_happens_only_when_the_spec_allows_it() -> None:
    x = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(64, 1, 8, 8).contiguous()
    plain = ClassifierSpec(shift_per_side=100)  # side // 100 = 0: no translation either
    assert torch.equal(augment(x, plain, torch.Generator().manual_seed(0)), x)
    mirrored = augment(x, dataclasses.replace(plain, hflip=True), torch.Generator().manual_seed(0))
    flipped = (mirrored == x.flip(-1)).flatten(1).all(1)
    assert 10 < int(flipped.sum()) < 54 and bool(((mirrored == x).flatten(1).all(1) | flipped).all())
