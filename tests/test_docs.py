"""The documentation runs: every Python block of each page in docs/ in order, and the notebooks, cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(path for path in DOCS.glob("*.md") if "```python" in path.read_text())
NOTEBOOKS = sorted(DOCS.glob("*.ipynb"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_top_to_bottom(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    blocks = _BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no Python block"
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{page.name}, block {number}", "exec"), namespace)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(notebook, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(notebook, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.output_type == "error"]
    assert not errors
    streams = [out.text for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if out.output_type == "stream"]
    assert not any("Warning" in text for text in streams), streams  # a reader sees a clean notebook
    shown = [out.get("data", {}) for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert any(data.get("text/html", "").startswith('<pre class="mixedfx">') for data in shown)
    assert any("image/png" in data for data in shown)  # plots show as images, not as <Figure size ...>
