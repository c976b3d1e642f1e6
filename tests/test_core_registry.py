"""The named registry behind every variant axis: order, duplicates, and the error that lists names."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.config.resolve import DEFAULT_VARIANTS
from harness.recipes.constraints import CONSTRAINTS
from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS, Knob, knobs_of, owned_by
from harness.data import DATASETS
from harness.recipes.losses import LOSSES
from harness.metrics import METRICS
from harness.models import ARCHS
from harness.recipes.presets import PRESETS
from harness.core.registry import CATALOG, Registry, registered
from harness.recipes.schedules import SCHEDULES


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


def test_the_mission_recipes_are_registered_and_the_default_variants() -> None:
    """Names the mission relies on are present (more may be added: no exact lists here)."""
    assert DEFAULT_VARIANTS == ("vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched")
    assert {"vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched", "sngan", "wgan_lp", "r1"} <= set(PRESETS.names())
    assert {"ring8", "grid25", "swissroll", "digits", "mnist", "fashion_mnist", "cifar10", "folder"} <= set(DATASETS.names())
    assert {"mlp", "dcgan"} <= set(ARCHS.names())
    assert {"none", "clip", "gp", "gp_one_sided", "r1", "dragan", "spectral_norm"} <= set(CONSTRAINTS.names())
    assert {"bce", "wasserstein", "hinge"} <= set(LOSSES.names())
    assert {"none", "linear"} <= set(SCHEDULES.names())
    assert {"w1", "fd_classifier"} <= set(METRICS.names())


def test_every_preset_names_registered_axes_only() -> None:
    """A preset is data over the registries: each of its values must be a registered name."""
    axes = {"loss": LOSSES, "constraint": CONSTRAINTS, "scheduler": SCHEDULES}
    for name in PRESETS:
        train = PRESETS.get(name).get("train")
        assert set(PRESETS.get(name).sections) == {"train"}, name
        for axis, registry in axes.items():
            values = [train[axis]] if isinstance(train[axis], str) else train[axis]
            assert all(value in registry for value in values), (name, axis)


def test_every_registry_is_in_the_catalog_the_schema_reads() -> None:
    for registry in (PRESETS, DATASETS, ARCHS, CONSTRAINTS, LOSSES, SCHEDULES, METRICS):
        assert CATALOG[registry.kind] is registry and registered(registry.kind)() == registry.names()
    assert registered("no such kind")() == []


def test_an_entry_declares_its_knobs_when_added_and_forgets_them_when_removed() -> None:
    @dataclass(frozen=True)
    class Entry:
        knobs: tuple[Knob, ...]

    reg: Registry[Entry] = Registry("test kind")
    knob = Knob("test_knob", int, 3, min=1)
    reg.add("a", Entry((knob,)))
    reg.add("b", Entry((knob,)))  # two entries may share a knob when they declare it alike
    assert KNOBS["test_knob"] is knob and owned_by("test_knob") == [("test kind", "a"), ("test kind", "b")]
    with pytest.raises(ValueError, match="declares knob train.test_knob"):
        reg.add("c", Entry((Knob("test_knob", int, 4, min=1),)))
    with pytest.raises(ConfigError, match="default of knob bad_default: 0 is out of range"):
        reg.add("d", Entry((Knob("bad_default", int, 0, min=1),)))
    reg.remove("a")
    assert owned_by("test_knob") == [("test kind", "b")]
    reg.remove("b")
    assert "test_knob" not in KNOBS and "c" not in reg and "d" not in reg


def test_a_knob_name_lives_in_one_section() -> None:
    """`width` under model: and under train: would be two keys with one name in sweep.space and the stores."""

    @dataclass(frozen=True)
    class Entry:
        knobs: tuple[Knob, ...]

    trains: Registry[Entry] = Registry("test train kind")
    models: Registry[Entry] = Registry("test model kind", knob_section="model")
    knob = Knob("test_sectioned", int, 3, min=1)
    models.add("m", Entry((knob,)))
    try:
        assert knobs_of("model")["test_sectioned"] is knob and "test_sectioned" not in knobs_of("train")
        with pytest.raises(ValueError, match="declares knob train.test_sectioned .* declared model.test_sectioned"):
            trains.add("t", Entry((knob,)))
        assert "t" not in trains
    finally:
        models.remove("m")
    assert "test_sectioned" not in KNOBS
