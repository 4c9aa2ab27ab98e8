"""The folder tree is the architecture: each subpackage imports only those below it, and no import circles."""

import ast
import re

from usae.provenance import PACKAGE_DIR, imported_modules, module_closure

# Bottom to top. A module may import its own layer's modules and those of lower layers only.
LAYERS = [
    {"errors", "io", "layout", "progress", "device", "provenance", "runtime", "options", "records"},
    {"data"},
    {"models"},
    {"activations"},
    {"sae"},
    {"analysis"},
    {"explorer"},
    {"stages"},
    {"config", "jobs", "cli", "rule"},
]
STAGES = ["fetch", "extract", "train", "released", "metrics", "baseline", "actmax", "figures", "tables", "explorer"]


def test_the_layers_are_those_the_docs_describe():
    """docs/development.md lists the layers, bottom first, one bullet each: its list is this file's LAYERS."""
    section = (PACKAGE_DIR.parents[1] / "docs/development.md").read_text().split("## Architecture")[1].split("\n## ")[0]
    bullets = [line.split(":")[0] for line in section.splitlines() if line.startswith("- `")]
    assert [set(re.findall(r"`(\w+)`", bullet)) for bullet in bullets] == LAYERS


def modules():
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ["usae", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def layer(module):
    top = module.split(".")[1] if "." in module else None
    return next((i for i, names in enumerate(LAYERS) if top in names), None) if top else -1


def test_every_module_has_a_layer():
    assert [m for m in modules() if layer(m) is None] == []


def test_no_import_runs_back_up():
    upward = [(m, i) for m in modules() for i in imported_modules(m) if layer(i) > layer(m)]
    assert upward == []


def test_no_import_circle():
    graph = {m: set(imported_modules(m)) - {m} for m in modules()}
    state = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", " -> ".join(path + [module])
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            visit(imported, path + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])


def test_no_library_module_shares_a_stage_name():
    library = [m for m in modules() if not m.startswith("usae.stages") and m.count(".") >= 1]
    assert [m for m in library if m.rsplit(".", 1)[1] in STAGES and m.count(".") >= 2] == []


def test_subpackage_inits_are_docstrings_only():
    """Re-exports would widen every stage's code digest (usae.provenance hashes parent packages)."""
    for init in PACKAGE_DIR.glob("*/__init__.py"):
        body = ast.parse(init.read_text()).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), init


def test_actmax_does_not_depend_on_the_package_fetch_code():
    closure = module_closure("usae.stages.actmax")
    assert "usae.data.embedded_photos" in closure
    assert not {"usae.data.sources", "usae.data.package_photos", "usae.data.package_clients"} & set(closure)
