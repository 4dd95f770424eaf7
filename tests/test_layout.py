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


def _module_imports(path: Path) -> set[str]:
    """The ``audiogender`` modules a file imports anywhere in it (inside functions too), relative imports resolved."""
    parts = ["audiogender", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
            modules |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    known = {_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in modules if m in known} - {_name(path)}


def _name(path: Path) -> str:
    return ".".join(["audiogender", *path.relative_to(PACKAGE).with_suffix("").parts]).removesuffix(".__init__")


def test_no_modules_import_each_other_even_inside_a_function():
    imports = {_name(p): _module_imports(p) for p in PACKAGE.rglob("*.py")}
    assert imports["audiogender.lab.head"] >= {"audiogender.lab.embeddings", "audiogender.lab.ge2e"}  # the resolver sees relative imports

    def cycle_from(module: str, path: tuple) -> tuple | None:
        for used in sorted(imports.get(module, ())):
            if used == path[0]:
                return path
            if used not in path and used > path[0]:  # each cycle found once, from its smallest module
                found = cycle_from(used, (*path, used))
                if found:
                    return found
        return None

    cycles = [cycle for module in sorted(imports) if (cycle := cycle_from(module, (module,)))]
    assert not cycles, cycles


def test_no_notebook_defines_a_function_logic_lives_in_the_library():
    import json

    for notebook in sorted((PACKAGE.parents[1] / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                tree = ast.parse("".join(cell["source"]).replace("%", "#"))
                defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
                assert not defined, f"{notebook.name} defines {defined}"
