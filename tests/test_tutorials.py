"""Every tutorial (tutorials/*.py) runs to the end in quick mode: TINYAE_QUICK=1 (a small subset, one
epoch), matplotlib's Agg backend, in a temporary working directory so that its figures go there."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((REPO / "tutorials").glob("*.py"))


@pytest.mark.parametrize("script", TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_tutorial_runs_to_the_end_in_quick_mode(script, tmp_path, data_dir_or_none):
    env = dict(os.environ, TINYAE_QUICK="1", MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")   # small arrays: 1 thread
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    data_root = data_dir_or_none
    if data_root is not None:
        env["TINYAE_DATA_DIR"] = str(data_root)
    else:
        env["TINYAE_OFFLINE"] = "1"                      # no downloads from the tests
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    output = result.stdout + result.stderr
    if result.returncode != 0 and data_root is None and "DataNotFoundError" in output:
        pytest.skip(f"{script.name} needs MNIST, which is not here (set TINYAE_DATA_DIR)")
    assert result.returncode == 0, f"{script.name} failed (exit code {result.returncode}):\n{output[-4000:]}"


@pytest.mark.parametrize("script", TUTORIALS, ids=[p.name for p in TUTORIALS])
def test_tutorial_opens_and_runs_as_a_notebook(script, tmp_path, data_dir_or_none, monkeypatch):
    """jupytext reads the `# %%` cells as a notebook; nbclient runs it in a Jupyter kernel, in quick mode."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = jupytext.read(script)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"} and len(notebook.cells) > 10
    monkeypatch.setenv("TINYAE_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")        # the kernel is a new process: it reads this
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    if data_dir_or_none is not None:
        monkeypatch.setenv("TINYAE_DATA_DIR", str(data_dir_or_none))
    else:
        monkeypatch.setenv("TINYAE_OFFLINE", "1")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        if data_dir_or_none is None and "DataNotFoundError" in str(exc):
            pytest.skip(f"{script.name} needs MNIST, which is not here (set TINYAE_DATA_DIR)")
        raise
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    assert any((tmp_path / "tutorial_outputs").iterdir())            # its figures were written
