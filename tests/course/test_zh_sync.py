"""The Chinese edition stays in sync with the English notebooks (issue 21, scripts/zh.py).

For every English notebook ``notebooks/NN_*.ipynb``: each Markdown cell has a translation in
``notebooks/zh/NN.yaml`` made from its current English text (same sha256), and the built
``notebooks/zh/NN_*.ipynb`` exists, was built from that very translation file (its recorded
sha256, not file times: git keeps none) and has the English notebook's code cells. A failure
names the notebook, the cell and the English text that changed (with a diff).

The second half shows the workflow on a temporary copy: an edited English cell fails the check,
``sync`` keeps the translation, the author revises it and runs ``done``, a rebuild passes.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

import study_time_rule as st  # noqa: E402  (scripts/)
import zh  # noqa: E402  (scripts/zh.py)

NUMBERS = zh.all_numbers(ROOT)


def _report(findings) -> str:
    return "\n".join(str(f) for f in findings)


def _allowance(nn: str) -> None:
    """While translators fill the files: skip a notebook whose YAML still has empty ``zh``."""
    empty, total = zh.untranslated(nn, ROOT)
    if empty:
        pytest.skip(
            f"notebooks/zh/{nn}.yaml: {empty} of {total} cells have an empty zh (not translated "
            "yet, issue 21); this allowance goes once every translation is in"
        )


def test_fourteen_notebooks_at_least():
    assert len(NUMBERS) >= 14 and NUMBERS[:14] == [f"{i:02d}" for i in range(14)], NUMBERS


@pytest.mark.parametrize("nn", NUMBERS)
def test_every_markdown_cell_has_a_current_translation(nn):
    _allowance(nn)
    found = zh.translation_findings(nn, ROOT)
    assert not found, (
        f"notebooks/zh/{nn}.yaml is not in sync with the English (`make zh-status`, revise, "
        f"`scripts/zh.py done {nn} CELL_ID`, `make zh`):\n{_report(found)}"
    )


@pytest.mark.parametrize("nn", NUMBERS)
def test_chinese_notebook_is_built_from_the_current_translation_and_english_code(nn):
    _allowance(nn)
    found = zh.notebook_findings(nn, ROOT)
    assert not found, f"notebooks/zh/ needs `make zh`:\n{_report(found)}"


def test_each_edition_runs_on_one_numerical_path_and_every_code_cell_on_both():
    """`make notebooks` runs strict nbval on the English notebooks (native path), `make
    notebooks-alt` on the Chinese ones (second path): their code cells are the English ones
    (the test above), so all code runs on both paths, each edition's outputs are checked once."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    alt = makefile.split("\nnotebooks-alt:", 1)[1].split("\n\n", 1)[0]
    assert alt.rstrip().endswith("notebooks/zh/") and "scripts/second_path.py" in alt, alt
    native = makefile.split("\nnotebooks:", 1)[1].split("\n\n", 1)[0]
    assert "--ignore=notebooks/zh" in native and "ATEN_CPU_CAPABILITY" not in native, native
    assert "\nzh: venv" in makefile and "\nzh-status: venv" in makefile


# ----- the workflow, on a temporary copy ---------------------------------------------------

NN = "00"
STUDY_ROW = re.compile(r"\|\s*study time\s*\|\s*(\d+)\s*minutes\s*\|")


def _translate_all(root: Path, prefix: str = "译文：") -> None:
    """A stand-in translator: every empty zh becomes prefix + the English."""
    path = zh.yaml_path(NN, root)
    doc = zh.load_translation(path, root)
    for cell in doc["cells"]:
        if not cell["zh"]:  # the header's study-time row in Chinese, as a translator writes it
            cell["zh"] = prefix + STUDY_ROW.sub(r"| 学习时间 | \1 分钟 |", cell["en"])
    path.write_text(zh.dump_translation(doc, zh.header_of(path)), encoding="utf-8")


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of notebook 00 with a complete translation and its Chinese notebook built."""
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    shutil.copy(zh.english_path(NN, ROOT), tmp_path / "notebooks")
    out = io.StringIO()
    assert zh.sync([NN], tmp_path, out=out) == 0, out.getvalue()
    assert zh.untranslated(NN, tmp_path)[0] > 0  # sync made it with empty zh
    assert zh.build([NN], tmp_path, execute=False, out=out) == 1  # refused: untranslated
    _translate_all(tmp_path)
    assert zh.build([NN], tmp_path, execute=False, out=out) == 0, out.getvalue()
    assert zh.translation_findings(NN, tmp_path) == []
    assert zh.notebook_findings(NN, tmp_path) == []
    return tmp_path


def _english(root: Path):
    path = zh.english_path(NN, root)
    return path, nbformat.read(path, as_version=4)


def _edit_english_markdown(root: Path, index: int, new_text: str) -> str:
    path, nb = _english(root)
    cell = [c for c in nb.cells if c.cell_type == "markdown"][index]
    cell.source += new_text
    nbformat.write(nb, path)
    return cell["id"]


def test_edited_english_cell_fails_the_check_until_translated_and_rebuilt(course):
    cell_id = _edit_english_markdown(course, 1, "\n\nA sentence the author just added.")
    name = zh.english_path(NN, course).name

    found = zh.translation_findings(NN, course)
    assert [(f.notebook, f.cell, f.kind) for f in found] == [(name, cell_id, "stale")]
    assert "+A sentence the author just added." in found[0].diff  # the English that changed
    assert any(f.kind == "outdated" for f in zh.notebook_findings(NN, course))
    out = io.StringIO()
    assert zh.status([NN], course, out=out) == 1
    assert cell_id in out.getvalue() and "+A sentence the author just added." in out.getvalue()
    out = io.StringIO()
    assert zh.build([NN], course, execute=False, out=out) == 1  # refuses, naming the cell
    assert f"cell {cell_id}: stale" in out.getvalue()

    # sync keeps the translation and the old English: the cell stays stale, the file unchanged
    path = zh.yaml_path(NN, course)
    before = path.read_bytes()
    zh.sync([NN], course, out=io.StringIO())
    assert path.read_bytes() == before
    assert [f.cell for f in zh.translation_findings(NN, course)] == [cell_id]

    # the author revises the translation, marks it done, rebuilds: the check passes
    doc = zh.load_translation(path, course)
    cell = next(c for c in doc["cells"] if c["id"] == cell_id)
    cell["zh"] += "\n\n作者刚加的一句话。"
    path.write_text(zh.dump_translation(doc, zh.header_of(path)), encoding="utf-8")
    assert zh.done(NN, [cell_id], course, out=io.StringIO()) == 0
    assert zh.translation_findings(NN, course) == []
    stale_nb = zh.notebook_findings(NN, course)
    assert [f.kind for f in stale_nb] == ["outdated", "outdated"], _report(stale_nb)
    assert zh.build([NN], course, execute=False, out=io.StringIO()) == 0
    assert zh.notebook_findings(NN, course) == []
    built = nbformat.read(zh.chinese_path(NN, course), as_version=4)
    assert "作者刚加的一句话。" in next(c for c in built.cells if c.get("id") == cell_id).source


def test_new_and_removed_english_cells_lose_no_translation(course):
    path, nb = _english(course)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    gone, moved = markdown[2], markdown[3]
    old = {c["id"]: c["zh"] for c in zh.load_translation(zh.yaml_path(NN, course))["cells"]}
    nb.cells.remove(gone)
    moved_from = moved["id"]
    moved["id"] = "renamed-cell"  # same English text under a new id
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("A brand new English cell.", id="new-cell"))
    nbformat.write(nb, path)

    kinds = {(f.cell, f.kind) for f in zh.translation_findings(NN, course)}
    assert ("new-cell", "missing") in kinds and ("renamed-cell", "missing") in kinds
    assert (gone["id"], "removed") in kinds
    zh.sync([NN], course, out=io.StringIO())
    doc = zh.load_translation(zh.yaml_path(NN, course), course)
    cells = {c["id"]: c for c in doc["cells"]}
    assert cells["new-cell"]["zh"] == "" and cells["new-cell"]["en"] == "A brand new English cell."
    assert cells["renamed-cell"]["zh"] == old[moved_from]
    assert [c["id"] for c in doc["removed"]] == [gone["id"]]
    assert doc["removed"][0]["zh"] == old[gone["id"]]  # kept for reuse
    assert [(f.cell, f.kind) for f in zh.translation_findings(NN, course)] == [
        ("new-cell", "missing")
    ]


def test_chinese_code_must_be_the_english_code(course):
    path = zh.chinese_path(NN, course)
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and "device" in c.source)
    code.source += "\nprint('only in Chinese')"
    nbformat.write(nb, path)
    found = zh.notebook_findings(NN, course)
    assert [(f.cell, f.kind) for f in found] == [(code["id"], "code")]
    assert "+print('only in Chinese')" in found[0].diff
    path.unlink()
    assert [f.kind for f in zh.notebook_findings(NN, course)] == ["no-notebook"]


def test_timestamps_of_a_run_are_not_a_code_difference(course):
    path = zh.chinese_path(NN, course)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata["execution"] = {"iopub.status.idle": "2030-01-01T00:00:00Z"}
    nbformat.write(nb, path)
    assert zh.notebook_findings(NN, course) == []


def test_hand_edited_chinese_markdown_is_found(course):
    path = zh.chinese_path(NN, course)
    nb = nbformat.read(path, as_version=4)
    cell = [c for c in nb.cells if c.cell_type == "markdown"][1]
    cell.source += " 手改"
    nbformat.write(nb, path)
    assert [(f.cell, f.kind) for f in zh.notebook_findings(NN, course)] == [
        (cell["id"], "markdown")
    ]


def test_built_notebook_records_its_sources_and_keeps_the_english_code(course):
    english = _english(course)[1]
    built = nbformat.read(zh.chinese_path(NN, course), as_version=4)
    record = built.metadata[zh.META_KEY]
    assert record["translation_sha256"] == zh.file_sha256(zh.yaml_path(NN, course))
    assert record["english_markdown_sha256"] == zh.markdown_hash(english)
    assert {k: v for k, v in built.metadata.items() if k != zh.META_KEY} == english.metadata
    for e, z in zip(english.cells, built.cells, strict=True):
        assert e.cell_type == z.cell_type and e.get("id") == z.get("id")
        if e.cell_type == "code":
            assert (e.source, e.metadata, e.outputs) == (z.source, z.metadata, z.outputs)
        else:
            assert z.source.startswith("译文：")
    badges = next(c for c in built.cells if "launch-badges" in c.metadata.get("tags", []))
    assert "labpath=notebooks%2Fzh%2F00_" in badges.source
    assert "/blob/main/notebooks/zh/00_" in badges.source


def test_the_chinese_header_states_the_study_time_at_the_chinese_reading_rate(course):
    """The build writes the header's minutes (st.zh_stated_minutes: 250 Han characters a
    minute), whatever number the translator typed; three times the prose raises them."""
    english = _english(course)[1]
    path = zh.yaml_path(NN, course)
    doc = zh.load_translation(path, course)
    title = next(c for c in doc["cells"] if "学习时间" in c["zh"])
    title["zh"] = st.ZH_STATED.sub(lambda m: m.group(1) + "1" + m.group(3), title["zh"])
    for cell in doc["cells"]:
        cell["zh"] += "\n\n" + "共享" * 2000  # 4,000 Han characters: 16 minutes more reading
    path.write_text(zh.dump_translation(doc, zh.header_of(path)), encoding="utf-8")
    built = zh.build_notebook(NN, course)
    translation = {c["id"]: c["zh"] for c in doc["cells"]}
    want = st.zh_stated_minutes(english, translation)
    assert st.zh_stated_in(built) == want > st.stated_minutes(english) + 15


def test_unchanged_translation_files_are_not_rewritten(course):
    path = zh.yaml_path(NN, course)
    before = path.stat().st_mtime_ns, path.read_bytes()
    out = io.StringIO()
    zh.sync([NN], course, out=out)
    assert "unchanged" in out.getvalue()
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["cells"][1].pop("zh"), "cells[1] cell c000: field 'zh' is missing"),
        (lambda d: d["cells"][2].pop("id"), "cells[2]: field 'id' is missing"),
        (lambda d: d["cells"][1].update(zh=3), "cells[1] cell c000: field 'zh' must be text"),
        (lambda d: d["cells"][1].update(en="x"), "field 'en_sha256' is not the hash of field 'en'"),
        (lambda d: d["cells"][1].update(note=1), "cells[1] cell c000: unknown field 'note'"),
        (lambda d: d.pop("cells"), "field 'cells' is missing"),
        (lambda d: d.update(notebook="x.ipynb"), "field 'notebook' is 'x.ipynb'"),
    ],
)
def test_a_bad_translation_file_is_one_line_naming_file_cell_and_field(course, edit, expected):
    path = zh.yaml_path(NN, course)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(zh.ZhError) as e:
        zh.translation_findings(NN, course)
    message = str(e.value)
    assert message.startswith("notebooks/zh/00.yaml: ") and "\n" not in message, message
    assert expected in message, message


def test_a_file_that_is_not_yaml_names_its_line(course):
    path = zh.yaml_path(NN, course)
    path.write_text("notebook: 00_start_here.ipynb\ncells:\n- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(zh.ZhError, match=r"^notebooks/zh/00\.yaml: line \d+: not valid YAML"):
        zh.load_translation(path, course)


def test_links_that_leave_notebooks_get_one_more_level():
    text = (
        "[guide](../docs/teaching.md), ![fig](../data/fig.png), [next](05_sharing.ipynb#top), "
        '[web](https://x.org/a), [here](#sec), <img src="../docs/a.svg">, [s](figures/b.png)\n'
        "[ref]: ../solutions/04_x.py"
    )
    assert zh.zh_markdown(text) == (
        "[guide](../../docs/teaching.md), ![fig](../../data/fig.png), [next](05_sharing.ipynb#top), "
        '[web](https://x.org/a), [here](#sec), <img src="../../docs/a.svg">, [s](../figures/b.png)\n'
        "[ref]: ../../solutions/04_x.py"
    )
