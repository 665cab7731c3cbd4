"""docs/answer_key.md holds every exercise's reference solution and every quiz answer,
and no student notebook links to it or to solutions/."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
import answer_key  # noqa: E402

from course_lib.exercises.quizzes import QUESTIONS  # noqa: E402

KEY = (ROOT / "docs" / "answer_key.md").read_text()


def test_every_exercise_of_every_notebook_has_its_solution_in_the_key():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for ex in answer_key.exercises(notebook):
            for fn in ex["functions"]:
                name = fn.removeprefix("my_")
                assert f"def {name}(" in KEY, f"{notebook.name}: {fn} has no answer in the key"


def test_every_quiz_answer_is_in_the_key():
    for qid, q in QUESTIONS.items():
        assert f"**{qid}.**" in KEY, qid
        assert q.choices[q.answer] in KEY, qid


def test_notebooks_do_not_point_learners_at_the_answer_key():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = json.dumps(json.loads(notebook.read_text())["cells"])
        assert "answer_key" not in text, notebook.name
