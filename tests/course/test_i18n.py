"""The learner's language (issue 21): course_lib.i18n and its catalogue, scripts/i18n.py.

English is the default and the identity (every English message byte for byte); with
``COURSE_LANG=zh`` a self-check's hint, "not attempted yet" and a quiz read in Chinese; an
unknown language names ``COURSE_LANG`` and the allowed values. The catalogue is checked
against the code: every marked message is in the PO file and translated (a failure names the
message and where it is used), each translation keeps its placeholders and avoids the
glossary's 避免 forms, and the committed ``.mo`` is exactly what the ``.po`` compiles to.
"""

from __future__ import annotations

import gettext
import io
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

import i18n as script  # noqa: E402  (scripts/i18n.py)

from course_lib import i18n  # noqa: E402
from course_lib.exercises import framework  # noqa: E402
from course_lib.exercises.nb04 import check_04_count_unique  # noqa: E402
from course_lib.exercises.quiz import grade, question_html  # noqa: E402
from course_lib.exercises.quizzes import QUESTIONS, get_question  # noqa: E402
from course_lib.runtime import LANG_ENV  # noqa: E402

PO = script.po_path("zh")
MO = PO.with_suffix(".mo")


@pytest.fixture
def zh(monkeypatch):
    monkeypatch.setenv(LANG_ENV, "zh")


@pytest.fixture
def en(monkeypatch):
    monkeypatch.delenv(LANG_ENV, raising=False)


def _stub(m):
    raise NotImplementedError


def _printed(fn, *args) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        fn(*args)
    return out.getvalue()


def _hint(fn) -> str:
    with pytest.raises(AssertionError) as e:
        check_04_count_unique(fn)
    return str(e.value)


def _numpy_count(m):
    import numpy as np

    return np.int64(sum(p.numel() for p in m.parameters()))


# --- the switch ------------------------------------------------------------------------------


def test_variable_is_named_in_runtime():
    assert LANG_ENV == "COURSE_LANG"


def test_english_is_the_default_and_the_identity(en):
    assert i18n.language() == "en"
    for msgid in script.extract_messages(ROOT):
        assert i18n._(msgid) == msgid
    assert i18n._("") == ""  # never the catalogue's header


def test_english_messages_byte_identical(en):
    out = _printed(check_04_count_unique, _stub)
    assert out == ("not attempted yet: replace `raise NotImplementedError` in _stub by your code\n")
    q = get_question("04-grad")
    assert q == QUESTIONS["04-grad"]
    assert grade(q, "D").text.startswith("✓ Right: D. The loss depends on W twice")
    assert "<p><b>Predict, then run</b> (04-grad): The same weight W" in question_html(q)
    assert _printed(framework.passed, "check_x", 3) == "✓ check_x: all 3 checks passed\n"


def test_chinese_not_attempted_hint_and_pass(zh):
    assert _printed(check_04_count_unique, _stub) == (
        "尚未作答：把 _stub 里的 `raise NotImplementedError` 换成你的代码\n"
    )
    assert _printed(framework.passed, "check_x", 3) == "✓ check_x：全部 3 项检查通过\n"


def test_chinese_framework_hint(zh):
    def broken(m):
        raise KeyError("oops")

    hint = _hint(broken)
    assert hint.startswith("你的函数抛出了 KeyError"), hint


def test_chinese_quiz(zh):
    q = get_question("04-grad")
    assert q.prompt.startswith("同一个权重 W 在两个深度上被使用")
    assert q.choices[3] == "它两次使用的梯度之和"
    html = question_html(q)
    assert "<b>先预测，再运行</b>（04-grad）：同一个权重 W" in html
    assert grade(q, "A").text.startswith("✗ 不是 A：反向传播会经过每一处使用")
    assert grade(q, 3).text.startswith("✓ 答对了：D。")
    assert QUESTIONS["04-grad"].prompt.startswith("The same weight W")  # the source stays


def test_set_language_in_a_first_cell(en, monkeypatch):
    assert i18n.set_language("zh") == "zh"
    assert get_question("05-order").choices[2] == "都不是：一样多"
    i18n.set_language("en")
    assert get_question("05-order").choices[2] == "Neither: the same"


@pytest.mark.parametrize("bad", ["fr", "zh-TW", "chinese"])
def test_unknown_language_is_one_clear_line(monkeypatch, bad):
    monkeypatch.setenv(LANG_ENV, bad)
    with pytest.raises(ValueError) as e:
        i18n._("Once")
    text = str(e.value)
    assert text == f"COURSE_LANG={bad!r} is not allowed: choose one of en, zh"
    assert "\n" not in text
    with pytest.raises(ValueError, match="COURSE_LANG='fr' is not allowed"):
        i18n.set_language("fr")


def test_empty_variable_means_english(monkeypatch):
    monkeypatch.setenv(LANG_ENV, " ")
    assert i18n.language() == "en"


# --- the catalogue ---------------------------------------------------------------------------


def _entries():
    return [e for e in script.read_po(PO) if e.msgid and not e.obsolete]


def test_every_marked_message_is_in_the_catalogue_and_translated():
    """A new ``_()`` needs `scripts/i18n.py extract`, a Chinese msgstr and `compile`."""
    translated = {e.msgid: e.msgstr for e in _entries()}
    missing = [
        f"{msgid!r} (used at {', '.join(where)})"
        for msgid, where in script.extract_messages(ROOT).items()
        if not translated.get(msgid)
    ]
    assert not missing, "no Chinese translation for:\n" + "\n".join(missing)


def test_po_file_is_what_extract_writes():
    assert PO.read_text(encoding="utf-8") == script.extracted_po("zh", ROOT), (
        "run `python scripts/i18n.py extract` (the .po lags the code)"
    )


def test_translations_keep_their_placeholders():
    wrong = [
        f"{e.msgid!r}: {script.placeholders(e.msgid)} -> {e.msgstr!r}: "
        f"{script.placeholders(e.msgstr)}"
        for e in _entries()
        if e.msgstr and script.placeholders(e.msgid) != script.placeholders(e.msgstr)
    ]
    assert not wrong, "\n".join(wrong)


def test_translations_avoid_the_glossarys_avoided_forms():
    table = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    rows = [r.split("|") for r in table.splitlines() if r.startswith("| ")]
    header = [c.strip() for c in rows[0]]
    avoid = {
        form.strip()
        for row in rows[2:]
        for form in row[header.index("避免")].split(",")
        if form.strip()
    }
    assert avoid, "the glossary's 避免 column is empty or moved"
    found = [f"{f!r} in {e.msgstr!r}" for e in _entries() for f in avoid if f in e.msgstr]
    assert not found, "\n".join(found)


def test_mo_is_what_the_po_compiles_to():
    assert MO.read_bytes() == script.compile_mo(script.read_po(PO)), (
        "run `python scripts/i18n.py compile` (the .mo lags the .po)"
    )


def test_compiled_catalogue_reads_back_with_gettext():
    catalogue = gettext.GNUTranslations(io.BytesIO(MO.read_bytes()))
    for e in _entries():
        assert catalogue.gettext(e.msgid) == e.msgstr
    assert "charset=UTF-8" in catalogue.gettext("") or catalogue.charset() == "UTF-8"


# --- the script ------------------------------------------------------------------------------


def test_extract_refuses_f_strings_and_positional_placeholders(tmp_path):
    with pytest.raises(ValueError, match=r"x\.py:2: an f-string inside _\(\)"):
        script._messages_in('n = 1\nmsg = _(f"{n} done")\n', "x.py")
    with pytest.raises(ValueError, match=r"x\.py:1: .* positional placeholder"):
        script._messages_in('msg = _("{} done")\n', "x.py")
    assert script._messages_in('a = _(text)\nb = N_("x" "y")\n', "x.py") == [("xy", 2)]


def test_merge_keeps_translations_marks_new_and_keeps_vanished():
    old = [script.Entry("kept", "保留"), script.Entry("gone", "旧的")]
    new = script.merge(old, {"kept": ["a.py:1"], "new {n}": ["b.py:2"]})
    assert [(e.msgid, e.msgstr, e.obsolete) for e in new] == [
        ("kept", "保留", False),
        ("new {n}", "", False),
        ("gone", "旧的", True),
    ]
    assert new[1].flags == ["python-brace-format"] and new[1].locations == ["b.py:2"]


def test_po_round_trip(tmp_path):
    entries = [
        script.Entry('say "hi"\n\ttab \\ end', "说“嗨”\n", ["a.py:3"], [], ["note"]),
        script.Entry("old", "旧", obsolete=True),
    ]
    path = tmp_path / "x.po"
    path.write_text(script.write_po(entries, "zh"), encoding="utf-8")
    back = [e for e in script.read_po(path) if e.msgid]
    assert [(e.msgid, e.msgstr, e.locations, e.comments, e.obsolete) for e in back] == [
        (e.msgid, e.msgstr, e.locations, e.comments, e.obsolete) for e in entries
    ]


def test_our_msgfmt_agrees_with_gnu_msgfmt(tmp_path):
    """The stdlib-only compiler reads back as GNU msgfmt's output does (same pairs)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU msgfmt is not installed here")
    gnu = tmp_path / "gnu.mo"
    subprocess.run([msgfmt, "-o", str(gnu), str(PO)], check=True)
    ours = gettext.GNUTranslations(io.BytesIO(MO.read_bytes()))
    theirs = gettext.GNUTranslations(gnu.open("rb"))
    assert ours._catalog == theirs._catalog


def test_our_msgfmt_agrees_with_babel():
    pytest.importorskip("babel")
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        catalog = read_po(f)
    babel_pairs = {m.id: m.string for m in catalog if m.id and m.string}
    ours = gettext.GNUTranslations(io.BytesIO(MO.read_bytes()))
    assert {k: v for k, v in ours._catalog.items() if k} == babel_pairs


# --- the hints of notebooks 01-06 (issue 21) ------------------------------------------------


def _upper_triangle(t):
    import torch

    return torch.ones(t, t, dtype=torch.bool).triu()


def _matrices_only(d, d_ff):
    return 4 * d * d + 2 * d * d_ff


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nb01_nb02_hints_in_each_language(monkeypatch, lang):
    from course_lib.exercises.nb01 import check_01_causal_mask
    from course_lib.exercises.nb02 import check_02_block_parameter_count

    monkeypatch.setenv(LANG_ENV, lang)
    with pytest.raises(AssertionError) as mask:
        check_01_causal_mask(_upper_triangle)
    with pytest.raises(AssertionError) as count:
        check_02_block_parameter_count(_matrices_only)
    if lang == "en":
        assert str(mask.value) == (
            "query i may see keys 0..i (the past): keep the lower triangle (tril), not triu"
        )
        assert str(count.value) == (
            "for d=256, d_ff=1024 the block has 789,760 parameters, you gave 786,432: "
            "attention 4d^2 + 4d, FFN 2*d*d_ff + d_ff + d, two LayerNorms 4d"
        )
    else:
        assert str(mask.value) == "查询 i 能看到键 0..i（过去）：保留下三角（tril），不是 triu"
        assert str(count.value).startswith(
            "d=256、d_ff=1024 时这个块有 789,760 个参数，你给出的是 786,432："
        )


# --- notebooks 07-13: a self-check's hint in Chinese, the English text unchanged -------------


def _nb07_hint(fn) -> str:
    from course_lib.exercises.nb07 import check_07_embedding_params

    with pytest.raises(AssertionError) as e:
        check_07_embedding_params(fn)
    return str(e.value)


def _tokens_only(v, h, t):  # the usual mistake: the position table forgotten
    return v * h


def test_nb07_hint_in_chinese_and_english(monkeypatch):
    monkeypatch.delenv(LANG_ENV, raising=False)
    english = "add the learned positions: one H-vector per position, max_len*H"
    assert _nb07_hint(_tokens_only) == english
    monkeypatch.setenv(LANG_ENV, "zh")
    assert _nb07_hint(_tokens_only) == "加上学到的位置：每个位置一个 H 维向量，共 max_len*H"


def test_nb11_template_hint_in_chinese_keeps_its_values(monkeypatch):
    from course_lib.exercises.nb11 import CLAIMS, check_11_claim_verdicts

    def one_wrong():  # every verdict True: the first false claim is named with its evidence
        return dict.fromkeys(CLAIMS, True)

    claim = "cuts activation memory at the same depth"
    monkeypatch.delenv(LANG_ENV, raising=False)
    with pytest.raises(AssertionError) as e:
        check_11_claim_verdicts(one_wrong)
    assert str(e.value) == (
        f"{claim!r} is False: the saved activations were identical for every plan at equal N "
        "(section 1; notebook 08, section 3): each of the N uses keeps its own inputs"
    )
    monkeypatch.setenv(LANG_ENV, "zh")
    with pytest.raises(AssertionError) as e:
        check_11_claim_verdicts(one_wrong)
    assert str(e.value).startswith(f"{claim!r} 应为 False：在相同 N 下，每个方案保存的激活")


def test_explorer_label_figure_title_and_stats_sentence_in_chinese(monkeypatch):
    """Under COURSE_LANG=zh a widget's readout, a figure's title and axis label and a
    comparison sentence read in Chinese, their numbers and plan names unchanged."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from course_lib.measure.stats import compare_to_baseline, difference_sentences
    from course_lib.nn.sharing import SharingPlan
    from course_lib.views.explorer import SharingExplorer
    from course_lib.views.figures import new_figure
    from course_lib.views.model_figures import plot_plan

    monkeypatch.setenv(LANG_ENV, "zh")
    w = SharingExplorer(strategy="all", n_layers=4)
    assert w.count_label.value.startswith("不重复参数：") and w.share_attention.description == (
        "共享注意力"
    )
    ax = plot_plan(SharingPlan.make("cycle", 4, 2), new_figure(3, 2).add_subplot())
    assert "组注意力权重" in ax.get_title() and ax.get_ylabel() == "层"
    df = pd.DataFrame({"name": ["none"] * 3 + ["all"] * 3, "seed": [0, 1, 2] * 2,
                       "accuracy": [0.70, 0.71, 0.72, 0.60, 0.61, 0.62]})  # fmt: skip
    (line,) = difference_sentences(compare_to_baseline(df, "accuracy", "none", scale=100))
    assert line == "`all` 对比 `none`：-10.0 [-10.0, -10.0] 个百分点，更差", line
    monkeypatch.delenv(LANG_ENV)
    (line,) = difference_sentences(compare_to_baseline(df, "accuracy", "none", scale=100))
    assert line == "`all`: -10.0 [-10.0, -10.0] points vs `none`, worse", line


def test_tr_translates_a_notebooks_words_and_tables_only_under_zh(monkeypatch):
    """``tr`` (the notebooks' ``_``): a template or a comparison's word, and a table's verdict
    column, read in Chinese under zh; in English the very same objects come back, and a
    column that is not there or a word outside the catalogue is left as it is."""
    import pandas as pd

    from course_lib.measure.stats import BASELINE, BETTER, NO_DIFFERENCE

    table = pd.DataFrame({"diff": [0.0, 1.5, 0.2], "verdict": [BASELINE, BETTER, NO_DIFFERENCE]})
    monkeypatch.delenv(LANG_ENV, raising=False)
    words = table["verdict"]
    assert i18n.tr(table) is table and i18n.tr(words) is words
    assert i18n.tr("{diff} points, {verdict}") == "{diff} points, {verdict}"
    monkeypatch.setenv(LANG_ENV, "zh")
    shown = i18n.tr(table)
    assert list(shown["verdict"]) == ["基线", "更好", "在这个规模下没有可测量的差异"]
    assert list(table["verdict"]) == [BASELINE, BETTER, NO_DIFFERENCE], "tr changed its input"
    assert shown["diff"].equals(table["diff"]) and list(i18n.tr(table["verdict"]))[1] == "更好"
    assert i18n.tr(table, column="plan") is table  # no such column: unchanged
    assert i18n.tr(pd.Series(["more", 3])).tolist() == ["more", 3]  # not in the catalogue
    line = i18n.tr("{diff} points, {verdict}").format(diff="+1.5", verdict=i18n.tr(BETTER))
    assert line == "+1.5 个百分点，更好", line


def test_figures_without_a_cjk_font_stay_quiet_under_zh(monkeypatch, recwarn):
    """The headline figure under zh: Chinese title and labels, no missing-glyph warning
    (a machine without a CJK font draws boxes silently); English leaves rcParams alone."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from course_lib.views.figures import new_figure, plot_params_vs_accuracy, png_output

    df = pd.DataFrame({"name": ["none", "all"], "unique_params": [60_000, 20_000],
                       "accuracy": [0.7, 0.65], "tokens_per_s": [1e4, 1.2e4]})  # fmt: skip
    before = list(matplotlib.rcParams["font.family"])
    plot_params_vs_accuracy(df, ax=new_figure(7, 4.5).add_subplot())
    assert matplotlib.rcParams["font.family"] == before  # English: nothing changed
    monkeypatch.setenv(LANG_ENV, "zh")
    fig = new_figure(7, 4.5)
    (ax,) = plot_params_vs_accuracy(df, ax=fig.add_subplot())
    assert ax.get_title() == "你的运行（这台机器）" and ax.get_xlabel() == "不重复参数（对数坐标）"
    png_output(fig)  # draws every glyph
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_figure_text_stays_english_where_no_cjk_font_can_draw_it(monkeypatch):
    """F_ (text drawn on a figure): Chinese where a CJK font exists, English where none does
    (boxes would say nothing), English in English; other messages are Chinese either way."""
    from course_lib.views import figures

    monkeypatch.setenv(LANG_ENV, "zh")
    monkeypatch.setattr(figures, "cjk_font", lambda: "Noto Sans CJK SC")
    assert figures.F_("test accuracy") == i18n._("test accuracy") != "test accuracy"
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    assert figures.F_("test accuracy") == "test accuracy"
    assert i18n._("test accuracy") != "test accuracy"  # the message itself is still Chinese
    monkeypatch.delenv(LANG_ENV)
    assert figures.F_("test accuracy") == "test accuracy"


def test_training_diverged_and_a_data_error_in_chinese(monkeypatch, tmp_path):
    """Issue 21: the errors a learner meets most (a run that diverged, a data file that is
    not there) read in Chinese under COURSE_LANG=zh, values and names kept, English in English."""
    from course_lib.data.own import own_data
    from course_lib.training.step import TrainingDiverged

    missing = tmp_path / "reviews.csv"
    monkeypatch.setenv(LANG_ENV, "zh")
    err = str(TrainingDiverged(3, 0.5, i18n._("the loss is {loss}").format(loss=float("nan"))))
    assert err.startswith(
        "训练在第 3 步发散（lr=0.5）：损失为 nan；请尝试更小的 lr（例如 lr=0.05）"
    )
    with pytest.raises(ValueError, match="^数据文件 .*reviews.csv 不存在$"):
        own_data(missing)
    monkeypatch.delenv(LANG_ENV)
    assert str(TrainingDiverged(3, 0.5, "the loss is nan")).startswith(
        "training diverged at step 3 (lr=0.5): the loss is nan; try a smaller lr (e.g. lr=0.05)"
    )
    with pytest.raises(ValueError, match="^data file .*reviews.csv is missing$"):
        own_data(missing)


def test_a_cjk_font_becomes_the_fallback_family_under_zh(monkeypatch):
    """matplotlib falls back glyph by glyph only along font.family: the CJK font goes there."""
    import matplotlib

    from course_lib.views import figures

    monkeypatch.setattr(figures, "cjk_font", lambda: "Noto Sans CJK SC")
    monkeypatch.setitem(matplotlib.rcParams, "font.family", ["sans-serif"])
    figures.language_fonts()
    assert matplotlib.rcParams["font.family"] == ["sans-serif"]  # English: untouched
    monkeypatch.setenv(LANG_ENV, "zh")
    figures.language_fonts()
    assert matplotlib.rcParams["font.family"] == ["sans-serif", "Noto Sans CJK SC"]
