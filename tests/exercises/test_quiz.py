"""The "predict, then run" quizzes: question data, grading, static HTML and the widget."""

import html
import re
from pathlib import Path

import nbformat
import pytest

from course_lib.exercises.quiz import (
    LETTERS,
    Question,
    QuizWidget,
    choice_index,
    feedback_html,
    grade,
    question_html,
    quiz,
)
from course_lib.exercises.quizzes import QUESTIONS, for_notebook, get_question

ROOT = Path(__file__).resolve().parents[2]
GOOD = dict(
    id="99-demo",
    prompt="Is it?",
    choices=("yes", "no"),
    answer=0,
    why=("because yes", "because not no"),
)


def test_every_notebook_from_04_has_a_question():
    for nn in [f"{i:02d}" for i in range(4, 12)]:
        assert for_notebook(nn), f"notebook {nn} has no quiz question"
    assert sum(len(for_notebook(f"{i:02d}")) for i in range(100)) == len(QUESTIONS)


@pytest.mark.parametrize("qid", list(QUESTIONS))
def test_each_question_grades_its_answer_right_and_the_others_wrong(qid):
    q = QUESTIONS[qid]
    for i in range(len(q.choices)):
        fb = grade(q, i)
        assert fb.correct == (i == q.answer)
        assert q.why[q.answer] in fb.text  # the feedback always explains the answer
        if i != q.answer:
            assert q.why[i] in fb.text and fb.text.startswith(f"✗ Not {LETTERS[i]}")
        else:
            assert fb.text.startswith(f"✓ Right: {LETTERS[i]}")


@pytest.mark.parametrize("qid", list(QUESTIONS))
def test_static_html_shows_question_and_choices_but_not_the_answer(qid):
    q = QUESTIONS[qid]
    page = question_html(q)
    assert html.escape(q.prompt) in page
    for letter, choice in zip(LETTERS, q.choices, strict=False):
        assert f"<b>{letter}.</b> {html.escape(choice)}" in page
    for why in q.why:
        assert html.escape(why) not in page
    assert "Right" not in page and "answer is" not in page


def test_letters_and_indices_pick_the_same_choice():
    q = get_question("04-grad")
    assert choice_index(q, "d") == choice_index(q, "D") == choice_index(q, 3) == 3
    assert grade(q, "D") == grade(q, 3)


@pytest.mark.parametrize("bad", [4, -1, "E", "AB", True, 1.0, None])
def test_a_bad_choice_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"choice=.*04-grad.*0 to 3.*A, B, C, D"):
        grade(get_question("04-grad"), bad)


def test_an_unknown_id_names_the_known_ones():
    with pytest.raises(ValueError, match=r"quiz id='04-nope'.*04-grad"):
        get_question("04-nope")
    with pytest.raises(ValueError, match="04-nope"):
        quiz("04-flops", "04-nope")


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(id="4-x"), "id="),
        (dict(id="04 x"), "id="),
        (dict(prompt="  "), "prompt"),
        (dict(choices=("only",), why=("w",)), "choices"),
        (dict(choices=("a", "a")), "repeat"),
        (dict(answer=2), "answer=2"),
        (dict(answer=-1), "answer=-1"),
        (dict(why=("one",)), "why"),
        (dict(why=("one", " ")), "why"),
    ],
)
def test_a_malformed_question_names_its_field(change, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        Question(**{**GOOD, **change})


def test_feedback_html_escapes_and_colours():
    right = feedback_html(grade(Question(**{**GOOD, "why": ("a < b", "c")}), 0))
    wrong = feedback_html(grade(Question(**GOOD), 1))
    assert "a &lt; b" in right and "#1a7f37" in right
    assert "#b35900" in wrong


def test_widget_click_shows_the_feedback_of_that_choice():
    q = get_question("08-bytes")
    w = QuizWidget(q)
    assert [b.description for b in w.buttons] == list(LETTERS[: len(q.choices)])
    assert w.feedback.value == "" and w.chosen is None
    w.buttons[0].click()
    assert w.chosen == 0 and "Not A" in w.feedback.value
    assert [b.button_style for b in w.buttons] == ["info", "", "", ""]
    w.buttons[q.answer].click()
    assert w.chosen == q.answer and "Right" in w.feedback.value
    assert html.escape(q.why[q.answer]) in w.feedback.value
    assert repr(w) == "QuizWidget('08-bytes': choose A, B, C, D)"


def test_quiz_cell_displays_the_static_question_then_the_widget(monkeypatch):
    shown = []
    monkeypatch.setattr("course_lib.exercises.quiz.display", shown.append)
    quiz("04-flops", "05-order")
    assert [type(x).__name__ for x in shown] == ["HTML", "QuizWidget", "HTML", "QuizWidget"]
    assert shown[0].data == question_html(get_question("04-flops"))


def test_quiz_cells_in_notebooks_have_their_static_fallback_stored():
    """Every stored quiz cell shows its question as text/html (GitHub, the site)."""
    seen = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            calls = [ln for ln in cell.source.splitlines() if ln.startswith("quiz(")]
            if cell.cell_type != "code" or not calls:
                continue
            ids = re.findall(r"\"(\d\d-[a-z0-9-]+)\"", "\n".join(calls))
            stored = [o.data.get("text/html", "") for o in cell.outputs if "data" in o]
            for qid in ids:
                assert qid[:2] == path.name[:2], f"{path.name} asks {qid}"
                assert question_html(get_question(qid)) in stored, f"{path.name}: {qid}"
                seen.add(qid)
    assert seen <= set(QUESTIONS)


@pytest.mark.parametrize("nn", [f"{i:02d}" for i in range(4, 12)])
def test_every_notebook_from_04_asks_a_quiz(nn):
    (path,) = sorted((ROOT / "notebooks").glob(f"{nn}_*.ipynb"))
    sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    asked = re.findall(r'^quiz\("(\d\d-[a-z0-9-]+)"', "\n".join(sources), re.M)
    assert asked, f"{path.name} asks no 'predict, then run' question: add quiz(\"{nn}-...\")"
