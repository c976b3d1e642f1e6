"""Knobs may not shadow the schema's train.* and model.* fields: the schema reserves its names, from either side."""

from __future__ import annotations

import dataclasses

import pytest

from harness.core import knobs
from harness.core.knobs import KNOBS, RESERVED, Knob
from harness.core.registry import Registry
from harness.core.schema import ModelConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class Entry:
    knobs: tuple[Knob, ...]


@pytest.mark.parametrize("section, cls", [("train", TrainConfig), ("model", ModelConfig)])
def test_every_field_is_reserved_and_no_built_in_knob_shadows_one(section: str, cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields <= RESERVED[section] and not (set(knobs.knobs_of(section)) & RESERVED[section])


def test_a_model_knob_named_like_a_model_field_is_refused() -> None:
    reg: Registry[Entry] = Registry("knob test model kind", knob_section="model")
    with pytest.raises(ValueError, match=r"knob 'z_dim', which would shadow the schema field model.z_dim"):
        reg.add("shadow", Entry((Knob("z_dim", int, 5, min=1),)))
    assert "shadow" not in reg


def test_a_knob_named_like_a_field_is_refused_and_leaves_no_trace() -> None:
    reg: Registry[Entry] = Registry("knob test kind")
    with pytest.raises(ValueError, match=r"knob 'n_critic', which would shadow the schema field train.n_critic"):
        reg.add("shadow", Entry((Knob("fine_knob", int, 1), Knob("n_critic", int, 5, min=1))))
    assert "shadow" not in reg and "fine_knob" not in KNOBS


def test_a_field_reserved_after_a_knob_of_its_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "RESERVED", {})
    reg: Registry[Entry] = Registry("knob test kind 2")
    reg.add("early", Entry((Knob("late_field", float, 1.0),)))
    try:
        with pytest.raises(ValueError, match="knob 'late_field' of .* shadows the schema field train.late_field"):
            knobs.reserve(["late_field"])
    finally:
        reg.remove("early")


def test_knobs_must_be_knob_declarations() -> None:
    reg: Registry[Entry] = Registry("knob test kind 3")
    with pytest.raises(TypeError, match="knobs must be Knob"):
        reg.add("x", Entry((("lr2", 1.0),)))  # type: ignore[arg-type]
