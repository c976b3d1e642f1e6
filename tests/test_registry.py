"""The named registry behind every variant axis: order, duplicates, and the error that lists names."""

from __future__ import annotations

import pytest

from harness.constraints import CONSTRAINTS
from harness.data import DATASETS
from harness.losses import LOSSES
from harness.metrics import METRICS
from harness.models import ARCHS
from harness.presets import PRESETS
from harness.registry import Registry
from harness.schedules import SCHEDULES


def test_entries_keep_registration_order_and_decorator_returns_the_entry() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("b", 2)

    @reg.register("a")
    def a() -> int:
        return 1

    assert reg.names() == ["b", "a"] and list(reg) == ["b", "a"]
    assert reg.get("a") is a and reg.get("b") == 2
    assert "a" in reg and "c" not in reg


def test_registering_a_name_twice_fails_and_keeps_the_first() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("x", 1)
    with pytest.raises(ValueError, match="thing 'x' is registered twice"):
        reg.add("x", 2)
    assert reg.get("x") == 1 and reg.names() == ["x"]


def test_unknown_name_lists_every_known_name() -> None:
    reg: Registry[int] = Registry("scheduler")
    reg.add("none", 0)
    reg.add("linear", 1)
    with pytest.raises(KeyError) as info:
        reg.get("cosin")
    assert info.value.args[0] == "unknown scheduler 'cosin'; known: none, linear"


def test_the_harness_registries_hold_the_issue_names() -> None:
    assert PRESETS.names() == ["vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched"]
    assert {"ring8", "grid25", "swissroll", "digits", "mnist", "fashion_mnist", "cifar10", "folder"} <= set(DATASETS.names())
    assert set(ARCHS.names()) == {"mlp", "dcgan"}
    assert {"none", "clip", "gp"} <= set(CONSTRAINTS.names())
    assert {"bce", "wasserstein"} <= set(LOSSES.names())
    assert {"none", "linear"} <= set(SCHEDULES.names())
    assert {"w1", "fd_classifier"} <= set(METRICS.names())


def test_every_preset_names_registered_axes_only() -> None:
    """A preset is data over the registries: each of its values must be a registered name."""
    axes = {"loss": LOSSES, "constraint": CONSTRAINTS, "scheduler": SCHEDULES}
    for name in PRESETS:
        train = PRESETS.get(name)["train"]
        assert set(PRESETS.get(name)) == {"train"}, name
        for axis, registry in axes.items():
            assert train[axis] in registry, (name, axis)
