"""Predict, then run: multiple-choice questions before a measurement (notebooks 04-13).

A learner commits to a prediction ("does sharing change the FLOPs?") before the next
cells measure it. The pure part, tested without a browser (``tests/exercises/test_quiz.py``):

- ``Question``: a frozen dataclass (id, prompt, choices, answer, one explanation per
  choice), validated on construction; the questions live in ``quizzes.py``.
- ``grade(question, choice)`` -> ``Feedback``: right or not, and a text that says why
  the chosen answer is right or wrong and explains the right one.
- ``question_html(question)``: the question and its lettered choices, never the answer.
  It is stored in the notebook as ``text/html``, so a static view (GitHub, ``make
  site``) shows the question even where widgets cannot run.

``QuizWidget`` is a thin view: one ``Button`` per choice (A, B, ...) and an ``HTML``
feedback line, inside a ``VBox``; it uses only widgets that behave the same under
ipywidgets 7.7 and 8. ``quiz("04-flops")`` is the one-line notebook cell: it displays
the question as HTML, then the buttons.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import ipywidgets as W
from IPython.display import HTML, display

from course_lib.i18n import _

LETTERS = "ABCDEF"
ID_PATTERN = re.compile(r"^(\d\d)-[a-z0-9-]+$")


@dataclass(frozen=True)
class Question:
    """One "predict before you run" question.

    ``why`` holds one explanation per choice: for the right choice, why it is right;
    for a wrong one, what that prediction overlooks.
    """

    id: str  # "NN-short-name", NN the notebook
    prompt: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: tuple[str, ...]
    measured_in: str = ""  # where the notebook measures it, e.g. "section 5"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not ID_PATTERN.match(self.id):
            raise ValueError(
                f"id={self.id!r} is not allowed: it must look like 'NN-name' "
                "(two digits of the notebook, then lowercase words joined by '-')"
            )
        if not self.prompt.strip():
            raise ValueError(f"prompt of question {self.id!r} is empty: write the question")
        if not 2 <= len(self.choices) <= len(LETTERS):
            raise ValueError(
                f"choices of question {self.id!r}: {len(self.choices)} given, "
                f"allowed 2 to {len(LETTERS)}"
            )
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"choices of question {self.id!r} repeat: {self.choices}")
        if not isinstance(self.answer, int) or not 0 <= self.answer < len(self.choices):
            raise ValueError(
                f"answer={self.answer!r} of question {self.id!r} is not allowed: "
                f"it must be an index 0 to {len(self.choices) - 1}"
            )
        if len(self.why) != len(self.choices) or not all(w.strip() for w in self.why):
            raise ValueError(
                f"why of question {self.id!r}: give one non-empty explanation per choice "
                f"({len(self.choices)} choices, {len(self.why)} explanations)"
            )

    @property
    def notebook(self) -> str:
        """The two-digit notebook number, e.g. "04"."""
        return self.id[:2]


@dataclass(frozen=True)
class Feedback:
    """What the learner reads after choosing."""

    correct: bool
    text: str


def choice_index(question: Question, choice: int | str) -> int:
    """The index of a choice given as an index (0, 1, ...) or a letter ("A", "b", ...)."""
    n = len(question.choices)
    if isinstance(choice, str) and len(choice) == 1 and choice.upper() in LETTERS[:n]:
        return LETTERS.index(choice.upper())
    if isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < n:
        return choice
    raise ValueError(
        _(
            "choice={choice!r} is not allowed for question {qid!r}: "
            "give an index 0 to {last} or a letter {letters}"
        ).format(choice=choice, qid=question.id, last=n - 1, letters=", ".join(LETTERS[:n]))
    )


def grade(question: Question, choice: int | str) -> Feedback:
    """Right or wrong, with the reason for the choice made and for the right answer.

    The texts are the question's own (``quizzes.get_question`` gives them in the learner's
    language); the sentences around them come from the catalogue (``course_lib.i18n``).
    """
    i = choice_index(question, choice)
    right = LETTERS[question.answer]
    if i == question.answer:
        text = _("✓ Right: {right}. {why}").format(right=right, why=question.why[i])
    else:
        text = _("✗ Not {chosen}: {why} The answer is {right}: {right_why}").format(
            chosen=LETTERS[i],
            why=question.why[i],
            right=right,
            right_why=question.why[question.answer],
        )
    if question.measured_in:
        text += _(" (Measured below, {where}.)").format(where=question.measured_in)
    return Feedback(correct=i == question.answer, text=text)


def question_html(question: Question) -> str:
    """The question and its lettered choices as HTML, without the answer."""
    items = "".join(
        f"<li><b>{LETTERS[i]}.</b> {html.escape(c)}</li>" for i, c in enumerate(question.choices)
    )
    return (
        f"<div class='course-quiz' id='quiz-{question.id}'>"
        + _("<p><b>Predict, then run</b> ({id}): {prompt}</p>").format(
            id=html.escape(question.id), prompt=html.escape(question.prompt)
        )
        + f"<ul style='list-style: none'>{items}</ul>"
        + _("<p><i>Choose a letter below; the cells after it measure the answer.</i></p>")
        + "</div>"
    )


def feedback_html(feedback: Feedback) -> str:
    """The feedback as one coloured HTML paragraph."""
    colour = "#1a7f37" if feedback.correct else "#b35900"
    return f"<p style='color: {colour}'>{html.escape(feedback.text)}</p>"


class QuizWidget(W.VBox):
    """A button per choice and a feedback line: a thin view over ``grade``."""

    def __init__(self, question: Question) -> None:
        self.question = question
        self.buttons = [  # narrow buttons in a row that wraps: six fit Colab's output area
            W.Button(description=LETTERS[i], tooltip=c, layout=W.Layout(width="56px"))
            for i, c in enumerate(question.choices)
        ]
        self.feedback = W.HTML(value="")
        self.chosen: int | None = None
        for i, b in enumerate(self.buttons):
            b.on_click(lambda _b, i=i: self.choose(i))
        row = W.HBox(self.buttons, layout=W.Layout(flex_flow="row wrap"))
        super().__init__(children=[row, self.feedback])

    def choose(self, choice: int | str) -> Feedback:
        """What a click does: grade the choice and show the feedback."""
        result = grade(self.question, choice)
        self.chosen = choice_index(self.question, choice)
        for i, b in enumerate(self.buttons):
            b.button_style = "info" if i == self.chosen else ""
        self.feedback.value = feedback_html(result)
        return result

    def __repr__(self) -> str:  # the stored text/plain output: stable, no answer
        return f"QuizWidget({self.question.id!r}: choose {', '.join(self.buttons_letters())})"

    def buttons_letters(self) -> list[str]:
        return [b.description for b in self.buttons]


def quiz(*ids: str) -> None:
    """Show each question (as HTML, for static views too) and its buttons; the notebook cell."""
    from course_lib.exercises.quizzes import get_question

    questions = [get_question(qid) for qid in ids]  # every id checked before showing any
    for question in questions:
        display(HTML(question_html(question)))
        display(QuizWidget(question))
