"""Bad inputs to the widgets (issue 10's widget class): the sharing explorer, ``explore``
and the training panel. Each named case either raises a ValueError whose message names the
field, shows such a message in the widget, or gives the correct result; none is clamped,
truncated, ignored or half applied. Runs under ipywidgets 7.7 and 8 (``make widgets7``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from course_lib import ModelConfig, TrainConfig, formula_parameter_count
from course_lib.nn.plan_summary import MAX_LAYERS, explore
from course_lib.training.step import TrainingDiverged
from course_lib.views.explorer import CONTROLS, SharingExplorer
from course_lib.views.training_panel import TrainingPanel

SHOWN = "shown to the learner"
TINY = ModelConfig.preset("tiny", n_layers=2)
BIG = 2**62  # with any width > 1 this weight needs more bytes than PyTorch can count


def readout(w: SharingExplorer) -> tuple:
    """What the learner sees: the controls' values and every output."""
    return (w.settings(), w.message.value, w.count_label.value, w.per_use_label.value,
            w.memory_label.value, w.table.value, len(w.plot_out.outputs))  # fmt: skip


def refused_and_unchanged(**values: Any) -> str:
    """``set(**values)`` must raise and leave every control and output as they were, the
    readout still the one ``explore`` gives for the controls' values."""
    w = SharingExplorer()
    before = readout(w)
    with pytest.raises(ValueError) as err:
        w.set(**values)
    assert readout(w) == before
    assert w.view == explore(**w.settings())
    return str(err.value)


def shown(**values: Any) -> str:
    """A setting the controls take but no model has: the message the explorer shows."""
    w = SharingExplorer()
    w.set(**values)
    assert w.count_label.value == "—" and w.plot_out.outputs == ()
    assert w.view.error and "Traceback" not in w.message.value
    return w.message.value


def explore_error(**settings: Any) -> str:
    """``explore`` never raises: the error it returns."""
    v = explore(**settings)
    assert v.config is None and v.unique_params is None
    return v.error


def agrees_after(**values: Any) -> str:
    """A good change: controls, view and labels all describe the same model."""
    w = SharingExplorer()
    w.set(**values)
    assert w.view == explore(**w.settings()) and w.view.error is None
    assert w.count_label.value == f"unique parameters: {w.view.unique_params:,}"
    return f"{w.n_layers.value} layers"


def huge_but_storable() -> bool:
    """Large sizes that PyTorch can still store are counted, not refused."""
    v = explore(vocab_size=2**40)
    return v.error is None and v.unique_params == formula_parameter_count(v.config)


def deepest_counted() -> bool:
    """The deepest model the explorer takes is counted exactly (issue 18: it took 10.6 s)."""
    v = explore("cycle", n_layers=MAX_LAYERS, n_blocks=MAX_LAYERS // 2)
    return v.error is None and v.unique_params == formula_parameter_count(v.config)


def panel_status_after(plans: dict, runner: Callable[..., dict]) -> str:
    """Train every plan; the plans that finished keep their rows (issue 18), the others are
    named in the status line."""
    p = TrainingPanel(TINY, TrainConfig(steps=1, warmup_steps=0), plans=plans,
                      selected=tuple(plans), runner=runner, progress=False)  # fmt: skip
    p.train()
    assert list(p.results["name"]) == ["good"], p.status.value
    return p.status.value


def diverge_on_all(cfg, train_cfg, dataset, progress) -> dict:
    if cfg.sharing == "all":
        raise TrainingDiverged(7, 2.0, "the gradient norm is inf", peak_lr=2.0)
    return {"sharing": cfg.sharing, "unique_params": 1, "accuracy": 0.5}


def panel(**kwargs: Any) -> TrainingPanel:
    args = dict(model_cfg=TINY, train_cfg=TrainConfig(steps=1, warmup_steps=0))
    return TrainingPanel(**{**args, **kwargs}, runner=lambda *a, **k: {}, progress=False)


Case = tuple[str, Callable[[], Any], Any, str]
CASES: list[Case] = [
    # the explorer's constructor: nothing clamped, truncated or ignored
    ("explorer_depth_beyond_slider", lambda: SharingExplorer(n_layers=100), ValueError, "n_layers=100 is not allowed: the slider takes integers 1 to 24"),
    ("explorer_blocks_beyond_slider", lambda: SharingExplorer(n_blocks=25), ValueError, "n_blocks=25"),
    ("explorer_zero_depth", lambda: SharingExplorer(n_layers=0), ValueError, "n_layers=0"),
    ("explorer_fractional_depth", lambda: SharingExplorer(n_layers=2.7), ValueError, "n_layers=2.7"),
    ("explorer_fractional_width", lambda: SharingExplorer(d_model=250.9), ValueError, "d_model=250.9 is not allowed: it takes an integer"),
    ("explorer_fractional_blocks", lambda: SharingExplorer(n_blocks=1.5), ValueError, "n_blocks=1.5"),
    ("explorer_float_vocab", lambda: SharingExplorer(vocab_size=1000.0), ValueError, "vocab_size=1000.0"),
    ("explorer_bool_as_depth", lambda: SharingExplorer(n_layers=True), ValueError, "n_layers=True"),
    ("explorer_text_as_size", lambda: SharingExplorer(d_ff="1024"), ValueError, "d_ff='1024'"),
    ("explorer_none_as_embed_dim", lambda: SharingExplorer(embed_dim=None), ValueError, "embed_dim=None"),
    ("explorer_unknown_keyword", lambda: SharingExplorer(depth=12), ValueError, "depth=12 is not allowed: no such control"),
    ("explorer_misspelt_keyword", lambda: SharingExplorer(n_layer=6), ValueError, "n_layer=6"),
    ("explorer_max_len_has_no_control", lambda: SharingExplorer(max_len=64), ValueError, "max_len=64"),
    ("explorer_text_as_bool", lambda: SharingExplorer(tie_embeddings="False"), ValueError, "tie_embeddings='False' is not allowed: give True or False"),
    ("explorer_int_as_bool", lambda: SharingExplorer(share_ffn=0), ValueError, "share_ffn=0"),
    ("explorer_unknown_strategy", lambda: SharingExplorer(strategy="albert"), ValueError, "strategy='albert'"),
    ("explorer_strategy_not_text", lambda: SharingExplorer(strategy=3), ValueError, "strategy=3"),
    ("explorer_unknown_task", lambda: SharingExplorer(task="translate"), ValueError, "task='translate'"),
    ("explorer_output_as_keyword", lambda: SharingExplorer(count_label="5"), ValueError, "count_label='5' is not allowed: it is an output"),
    ("explorer_strategy_against_switch", lambda: SharingExplorer(strategy="none", share_ffn=True), ValueError, "share_ffn=True"),
    # set(): checked first, applied whole or not at all
    ("set_output_count_label", lambda: refused_and_unchanged(count_label="1 parameter"), SHOWN, "count_label='1 parameter' is not allowed: it is an output"),
    ("set_output_memory_label", lambda: refused_and_unchanged(memory_label="0 MB"), SHOWN, "memory_label='0 MB'"),
    ("set_output_per_use_label", lambda: refused_and_unchanged(per_use_label="0"), SHOWN, "per_use_label='0'"),
    ("set_output_message", lambda: refused_and_unchanged(message=""), SHOWN, "message=''"),
    ("set_output_table", lambda: refused_and_unchanged(table="<pre></pre>"), SHOWN, "table='<pre></pre>'"),
    ("set_output_plot", lambda: refused_and_unchanged(plot_out=()), SHOWN, "plot_out=()"),
    ("set_output_view", lambda: refused_and_unchanged(view=None), SHOWN, "view=None"),
    ("set_text_as_switch", lambda: refused_and_unchanged(share_attention="False"), SHOWN, "share_attention='False'"),
    ("set_numpy_bool_as_switch", lambda: refused_and_unchanged(tie_embeddings=np.True_), SHOWN, "tie_embeddings="),
    ("set_half_good_bad_width", lambda: refused_and_unchanged(n_layers=4, d_model="wide"), SHOWN, "d_model='wide'"),
    ("set_half_good_unknown_name", lambda: refused_and_unchanged(n_layers=4, depth=3), SHOWN, "depth=3"),
    ("set_half_good_depth_beyond_slider", lambda: refused_and_unchanged(d_model=64, n_layers=30), SHOWN, "n_layers=30"),
    ("set_half_good_fraction", lambda: refused_and_unchanged(strategy="all", n_heads=2.0), SHOWN, "n_heads=2.0"),
    ("set_strategy_against_switch", lambda: refused_and_unchanged(strategy="attention", share_ffn=True), SHOWN, "share_ffn=True is not allowed with sharing='attention'"),
    ("set_block_strategy_without_a_switch", lambda: refused_and_unchanged(strategy="cycle", share_attention=False), SHOWN, "share_attention=False"),
    ("set_numpy_integer_is_taken_exactly", lambda: agrees_after(n_layers=np.int64(6)), SHOWN, "6 layers"),
    ("set_strategy_and_depth_together", lambda: agrees_after(strategy="none", n_layers=5), SHOWN, "5 layers"),
    # settings the controls take but no model has: a message in the explorer
    ("explorer_shows_storage_overflow", lambda: shown(vocab_size=BIG), SHOWN, f"vocab_size={BIG}"),
    ("explorer_shows_width_overflow", lambda: shown(d_model=2**31, n_heads=1, embed_dim=8), SHOWN, "d_model=2147483648"),
    ("explorer_shows_heads_not_dividing", lambda: shown(n_heads=3), SHOWN, "n_heads=3"),
    ("explorer_shows_zero_heads", lambda: shown(n_heads=0), SHOWN, "n_heads=0"),
    # explore(): never raises, booleans must be bools, storage overflow is a message
    ("explore_text_false_attention", lambda: explore_error(share_attention="False"), SHOWN, "share_attention='False' is not allowed: give True, False or None"),
    ("explore_text_true_ffn", lambda: explore_error(share_ffn="True"), SHOWN, "share_ffn='True'"),
    ("explore_int_switch", lambda: explore_error(share_attention=1), SHOWN, "share_attention=1"),
    ("explore_text_tie", lambda: explore_error(task="lm", tie_embeddings="False"), SHOWN, "tie_embeddings='False'"),
    ("explore_fractional_depth", lambda: explore_error(n_layers=2.7), SHOWN, "n_layers=2.7"),
    ("explore_fractional_width", lambda: explore_error(d_model=250.9), SHOWN, "d_model=250.9"),
    ("explore_vocab_overflow", lambda: explore_error(vocab_size=BIG), SHOWN, f"vocab_size={BIG} with d_model=256 is not allowed"),
    ("explore_vocab_beyond_int64", lambda: explore_error(vocab_size=2**70), SHOWN, f"vocab_size={2**70}"),
    ("explore_width_overflow", lambda: explore_error(d_model=2**31, n_heads=1), SHOWN, "d_model=2147483648 is not allowed"),
    ("explore_ffn_overflow", lambda: explore_error(d_ff=BIG), SHOWN, f"d_ff={BIG}"),
    ("explore_positions_overflow", lambda: explore_error(max_len=BIG), SHOWN, f"max_len={BIG}"),
    ("explore_factorized_overflow", lambda: explore_error(embed_dim=BIG, d_model=64), SHOWN, f"embed_dim={BIG}"),
    ("explore_huge_but_storable", huge_but_storable, True, ""),
    ("explore_deepest_allowed_counted", deepest_counted, True, ""),
    ("explore_depth_beyond_cap", lambda: explore_error(strategy="none", n_layers=100_000), SHOWN, f"n_layers=100000 is not allowed in the explorer: it lists every layer, at most {MAX_LAYERS:,}"),
    ("explore_depth_beyond_memory", lambda: explore_error(n_layers=10**12), SHOWN, "n_layers=1000000000000 is not allowed"),
    ("explore_blocks_beyond_memory", lambda: explore_error(strategy="cycle", n_layers=2**40, n_blocks=2**40), SHOWN, f"n_layers={2**40} is not allowed"),
    # the training panel: refused when built, not at Train
    ("panel_config_as_dict", lambda: panel(model_cfg={"d_model": 32}), ValueError, "model_cfg={'d_model': 32} is not allowed: give a ModelConfig"),
    ("panel_train_config_as_dict", lambda: panel(train_cfg={"steps": 5}), ValueError, "train_cfg={'steps': 5}"),
    ("panel_no_plans", lambda: panel(plans={}, selected=()), ValueError, "plans={}"),
    ("panel_plan_not_a_dict", lambda: panel(plans={"mine": "cycle"}, selected=("mine",)), ValueError, "plans['mine']='cycle'"),
    ("panel_selected_as_text", lambda: panel(selected="none"), ValueError, "selected='none' is not allowed: give a tuple"),
    # the training panel at Train: one plan failing loses no other plan's row
    ("panel_later_plan_diverges", lambda: panel_status_after({"good": {"sharing": "none"}, "bad": {"sharing": "all"}}, diverge_on_all), SHOWN, "not trained: bad: training diverged at step 7"),
    ("panel_earlier_plan_diverges", lambda: panel_status_after({"bad": {"sharing": "all"}, "good": {"sharing": "none"}}, diverge_on_all), SHOWN, "1 plan(s) trained, 1 in the table"),
    ("panel_plan_with_unknown_field", lambda: panel_status_after({"good": {"sharing": "none"}, "bad": {"n_expert": 3}}, diverge_on_all), SHOWN, "bad: n_expert=3 is not allowed"),
    ("panel_plan_with_too_many_blocks", lambda: panel_status_after({"bad": {"sharing": "cycle", "n_blocks": 9}, "good": {"sharing": "none"}}, diverge_on_all), SHOWN, "bad: n_blocks=9 is not allowed"),
]  # fmt: skip


@pytest.mark.parametrize("name, call, expect, names", CASES, ids=[c[0] for c in CASES])
def test_bad_widget_input(name, call, expect, names):
    if expect is ValueError:
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert message.startswith(names.split(" is ")[0].split(" with ")[0]), message
    else:
        message = call()
        if expect is not SHOWN:
            assert message == expect
            return
    assert names in message, message
    assert "Traceback" not in message


def test_case_names_are_unique_and_every_control_is_named():
    assert len({c[0] for c in CASES}) == len(CASES)
    tried = " ".join(c[3] for c in CASES)
    untried = [c for c in CONTROLS if f"{c}=" not in tried]
    assert untried == [], untried
