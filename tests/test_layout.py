"""The product apart from the lab: what ``audiogender predict`` runs never imports the training side."""

import ast
from pathlib import Path

import audiogender

PACKAGE = Path(audiogender.__file__).parent
PRODUCT = sorted(p for p in PACKAGE.glob("*.py"))
LAB_ONLY = {"torch", "skorch", "sklearn", "pandas", "matplotlib", "seaborn", "pyworld", "onnx", "yaml", "librosa"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether at the top level of the file) for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "audiogender." + (node.module or "") if node.level else node.module
            names = [f"{base.rstrip('.')}.{alias.name}" for alias in node.names] if node.level and not node.module else [base]
            found += [(name, id(node) in top) for name in names]
    return found


def test_the_product_never_imports_the_lab():
    assert PRODUCT and {p.name for p in PRODUCT} >= {"audio.py", "features.py", "vad.py", "runtime.py", "predict.py", "cli.py", "labels.py"}
    for path in PRODUCT:
        lab = [name for name, _ in _imports(path) if name == "audiogender.lab" or name.startswith("audiogender.lab.")]
        assert not lab, f"{path.name} imports {lab}"


def test_the_product_needs_no_training_library_to_import():
    for path in PRODUCT:
        heavy = [name for name, top in _imports(path) if top and name.split(".")[0] in LAB_ONLY]
        assert not heavy, f"{path.name} imports {heavy} at its top"


def test_the_lab_is_a_folder_of_its_own():
    lab = {p.stem for p in (PACKAGE / "lab").glob("*.py")}
    assert {"recipes", "networks", "datasets", "train", "splits", "crossval", "search", "evaluate", "augment"} <= lab
    assert not lab & {p.stem for p in PRODUCT} - {"__init__", "__main__"}  # no module name means two things
