"""Plugins are imported inside a guard: every failure is one ConfigError, and a failed module registers nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS
from harness.recipes.losses import LOSSES
from harness.config.plugin_loader import load_plugins

REGISTERS_THEN_FAILS = """
from harness.plugins import Knob, register_loss


@register_loss("half_done", knobs=(Knob("half_done_weight", float, 1.0, min=0),))
class HalfDone:
    @staticmethod
    def critic(real_scores, fake_scores):
        return real_scores.mean()

    @staticmethod
    def generator(fake_scores):
        return fake_scores.mean()


raise RuntimeError("failed after registering")
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_a_module_that_fails_after_registering_leaves_no_entry_and_no_knob(user_dir: Path) -> None:
    (user_dir / "half.py").write_text(REGISTERS_THEN_FAILS)
    with pytest.raises(ConfigError, match=r"^plugins\[0\]: 'half' cannot be imported: RuntimeError: failed after"):
        load_plugins(["half"])
    assert "half_done" not in LOSSES and "half_done_weight" not in KNOBS


def test_sys_exit_is_reported_and_ctrl_c_is_not_swallowed(user_dir: Path) -> None:
    (user_dir / "quits.py").write_text("import sys\nsys.exit('bye')\n")
    with pytest.raises(ConfigError, match=r"^plugins\[0\]: 'quits' called sys.exit\('bye'\) while being imported"):
        load_plugins(("quits",))
    (user_dir / "interrupted.py").write_text("raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_plugins(["interrupted"])


def test_names_are_checked_before_anything_is_imported(user_dir: Path) -> None:
    (user_dir / "first.py").write_text("IMPORTED = True\n")
    with pytest.raises(ConfigError, match=r"^plugins\[1\]: 'pkg/second.py' is not a module name"):
        load_plugins(["first", "pkg/second.py"])
    assert "first" not in sys.modules


def test_a_plugin_that_imports_fine_stays_registered(user_dir: Path) -> None:
    (user_dir / "fine.py").write_text(REGISTERS_THEN_FAILS.replace('raise RuntimeError("failed after registering")',
                                                                   ""))
    try:
        assert load_plugins(["fine"]) == ("fine",)
        assert "half_done" in LOSSES and KNOBS["half_done_weight"].default == 1.0
    finally:
        LOSSES.remove("half_done")


@pytest.mark.parametrize("code, said", [
    ("class Fatal(BaseException):\n    pass\n\nraise Fatal('from a BaseException')\n",
     "'fatal' cannot be imported: Fatal: from a BaseException"),
    ("class Broken(Exception):\n    def __str__(self):\n        raise ValueError('no')\n\nraise Broken()\n",
     "'fatal' cannot be imported: Broken: Broken (its message could not be read)"),
])
def test_whatever_a_plugin_raises_is_one_config_error(code: str, said: str, user_dir: Path) -> None:
    (user_dir / "fatal.py").write_text(code)
    with pytest.raises(ConfigError) as refused:
        load_plugins(["fatal"])
    assert str(refused.value) == f"plugins[0]: {said}"
