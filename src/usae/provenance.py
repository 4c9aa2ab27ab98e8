"""What a stage's result depends on in the library: the usae modules it imports, and their content digest.

Snakemake reruns a rule when a declared ``params`` value changes. Each rule declares
``code=code_digest("usae.stages.<rule>")``: the SHA-256 of every ``src/usae`` file that the stage
imports, directly or through other usae modules (found by reading the import statements, so nothing
heavy is imported at parse time). Editing ``usae/sae/modules.py`` changes the digest of training and of every
stage that loads a trained model, and not that of extraction.
"""

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "usae"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(module):
    """Source file of a usae module or package (``usae.stages.train`` -> ``.../stages/train.py``)."""
    parts = module.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


@cache
def imported_modules(module):
    """usae modules named in ``module``'s import statements, at any depth (function-local imports too)."""
    tree = ast.parse(module_file(module).read_text(), filename=str(module_file(module)))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if _is_usae_module(name))
    return frozenset(found)


def _is_usae_module(name):
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return False
    target = module_file(name)
    return target.exists()


def _with_parents(module):
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def module_closure(module):
    """Every usae module that importing ``module`` runs: its imports, theirs, and their parent packages."""
    seen, todo = set(), list(_with_parents(module))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imported_modules(name):
            todo.extend(_with_parents(imported) - seen)
    return sorted(seen)


def code_digest(module):
    """Hex SHA-256 over the relative path and bytes of every file in ``module``'s closure.

    Raises
    ------
    ModuleNotFoundError
        If ``module`` is not a usae module.
    """
    if not _is_usae_module(module):
        raise ModuleNotFoundError(f"{module}: not a module of the usae package")
    digest = hashlib.sha256()
    for path in sorted(module_file(name) for name in module_closure(module)):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
