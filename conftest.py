"""Notebook validation with small, fast parameters.

``pytest --nbval`` collects ``notebooks/*.ipynb``. The notebooks default to the real
run (all of AudioMNIST, 25 epochs), so each is collected through a copy with the
parameters of ``tests/notebook_params.yml`` injected after its ``parameters`` cell,
as papermill does: the small clips the repo ships, two epochs, outputs in the
throw-away folder ``.nbtest/``. Node ids stay ``notebooks/NN_name.ipynb::Cell K``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from unittest import mock

import nbformat
import pytest
import yaml

ROOT = Path(__file__).parent
WORK = ROOT / ".nbtest"


def pytest_configure(config):
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        config.option.nbval_current_env = True  # the kernel is this interpreter, whatever kernelspecs say
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir()


def parameterized(notebook: Path) -> nbformat.NotebookNode:
    """``notebook`` with the test parameters injected after its parameters cell."""
    params = yaml.safe_load((ROOT / "tests" / "notebook_params.yml").read_text())
    values = {**params.get("all", {}), **params.get(notebook.stem, {})}
    values = {k: str(WORK / v[len("$WORK/"):]) if isinstance(v, str) and v.startswith("$WORK/") else v for k, v in values.items()}
    nb = nbformat.read(notebook, as_version=4)
    cells = []
    for cell in nb.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":  # outputs differ run to run (timings, paths): check that cells run
            cell.metadata.setdefault("tags", []).append("nbval-ignore-output")
        cells.append(cell)
        if "parameters" in cell.metadata.get("tags", []):
            names = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")}
            source = "\n".join(f"{k} = {v!r}" for k, v in values.items() if k in names)
            injected = nbformat.v4.new_code_cell("# Injected test parameters\n" + source)
            injected.metadata["tags"] = ["injected-parameters", "nbval-ignore-output"]
            cells.append(injected)
    nb.cells = cells
    return nb


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":  # a notebook trains and evaluates: minutes, not seconds
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collectors = yield
    if file_path.suffix == ".ipynb" and file_path.parent == ROOT / "notebooks" and collectors:
        from nbval.plugin import IPyNbFile

        class ParameterizedNotebook(IPyNbFile):
            def collect(self):
                # nbval reads the file itself; hand it the parameterized notebook instead
                notebook = parameterized(self.path)
                with mock.patch("nbval.plugin.nbformat.read", lambda *args, **kwargs: notebook):
                    yield from super().collect()

        return [ParameterizedNotebook.from_parent(parent, path=file_path)]
    return collectors
