"""The walkthrough notebook runs from top to bottom."""

from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK = NOTEBOOKS / "walkthrough.ipynb"


def test_walkthrough_notebook_executes(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(str(o.get("text", "")) for cell in notebook.cells
                      for o in cell.get("outputs", []))
    assert "focal alerts:" in outputs and "median amplitude error" in outputs


def test_publication_figures_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("IOMON_RECORDINGS", str(NOTEBOOKS.parent / "recordings"))
    notebook = nbformat.read(NOTEBOOKS / "publication_figures.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    made = {p.name for p in (tmp_path / "publication_figures").iterdir()}
    assert {"trend_legs.svg", "overlay_legs.svg", "waveforms_ta.svg"} <= made
