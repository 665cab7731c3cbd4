"""scripts/gpu_job.sh (issue 13) cannot run without a GPU; what can be checked on CPU is."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_job_script_parses_and_names_every_stage():
    script = ROOT / "scripts" / "gpu_job.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)  # syntax only
    text = script.read_text()
    for stage in ("scripts/full_notebooks.py", "-m course_lib sweep --preset full",
                  "benchmarks/albert_scale.py", "--dry-run"):  # fmt: skip
        assert stage in text, stage


def test_full_notebooks_dry_run_lists_every_notebook(tmp_path):
    out = tmp_path / "nb.json"
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "full_notebooks.py"),
        "--dry-run",
        "--out",
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    payload = json.loads(out.read_text())
    names = [r["notebook"] for r in payload["notebooks"]]
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(names) >= 14 and payload["total_seconds"] == 0  # 00-13 at least
    assert "utc" in payload["provenance"]


def test_full_notebooks_records_status_and_stops_at_the_first_error(tmp_path):
    import nbformat

    paths = []
    for name, code in (("a.ipynb", "x = 1"), ("b.ipynb", "1 / 0"), ("c.ipynb", "y = 2")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nbformat.write(nb, tmp_path / name)
        paths.append(str(tmp_path / name))
    out = tmp_path / "nb.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "full_notebooks.py"), *paths, "--out", str(out)]
    assert subprocess.run(cmd, capture_output=True).returncode == 1
    records = json.loads(out.read_text())["notebooks"]
    assert [(r["notebook"], r["status"]) for r in records] == [
        ("a.ipynb", "ok"),
        ("b.ipynb", "error"),
    ]
    assert "ZeroDivisionError" in records[1]["error"] and records[0]["peak_gpu_mem_mb"] is None
    assert nbformat.read(tmp_path / "a.ipynb", as_version=4).cells[0].outputs == []  # not saved
