"""docs/python_api.md: its Python example runs as written on the tiny workflow run."""

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "python_api.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_example_runs_on_a_trained_run(tiny_evaluated, monkeypatch, capsys):
    config, _ = tiny_evaluated
    blocks = PYTHON_BLOCK.findall(PAGE.read_text())
    assert len(blocks) == 1
    monkeypatch.chdir(Path(config["results"]).parent)  # the example reads results/ from where it runs
    exec(compile(blocks[0], str(PAGE), "exec"), {})
    printed = capsys.readouterr().out
    assert "(2, 49, 64) (2, 49, 320)" in printed and "energy_total" in printed
