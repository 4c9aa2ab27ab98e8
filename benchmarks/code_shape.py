"""The shape of the code base: docstring share, widest signatures, long lines, rule scripts.

    python benchmarks/code_shape.py               # the working tree
    python benchmarks/code_shape.py --rev 1dcf276  # a commit (read with git archive)

Prints, for ``src/usae``: the share of source lines inside docstrings (module, class and function ones), the
functions with the most parameters, the lines over 120 characters (in ``src``, ``tests`` and ``benchmarks``),
and the Python scripts under ``workflow/scripts``. docs/development.md quotes its output.
"""

import argparse
import ast
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tree(rev):
    """A folder holding the tree of ``rev`` (the working tree itself when None)."""
    if rev is None:
        return REPO
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="code_shape_"))
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(folder, filter="data")
    return folder


def docstring_lines(source):
    """Lines of the module, class and function docstrings of ``source``."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                count += first.end_lineno - first.lineno + 1
    return count


def signatures(path, root):
    """``(parameters, qualified name)`` of every function in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
            count -= bool(a.args) and a.args[0].arg in ("self", "cls")
            found.append((count, f"{path.relative_to(root)}:{node.name}"))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git commit (default: the working tree)")
    parser.add_argument("--widest", type=int, default=6, help="signatures listed")
    args = parser.parse_args()
    root = tree(args.rev)
    sources = sorted((root / "src" / "usae").rglob("*.py"))
    total = sum(len(path.read_text().splitlines()) for path in sources)
    docs = sum(docstring_lines(path.read_text()) for path in sources)
    print(f"src/usae: {len(sources)} files, {total} lines, {docs} in docstrings ({docs / total:.0%})")
    print("widest signatures (parameters):")
    for count, name in sorted((s for path in sources for s in signatures(path, root)), reverse=True)[: args.widest]:
        print(f"  {count:3d}  {name}")
    long = sum(
        len(line) > 120
        for folder in ("src", "tests", "benchmarks")
        for path in (root / folder).rglob("*.py")
        for line in path.read_text().splitlines()
    )
    print(f"lines over 120 characters (src, tests, benchmarks): {long}")
    scripts = sorted(path.name for path in (root / "workflow" / "scripts").glob("*.py"))
    print(f"workflow/scripts: {len(scripts)} Python files ({', '.join(scripts)})")


if __name__ == "__main__":
    main()
