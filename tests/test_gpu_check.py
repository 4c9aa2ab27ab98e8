"""benchmarks/gpu_check.sh: its logic on CPU at tiny sizes (the GPU paths need a GPU; docs/gpu.md)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
SCHEMA = REPO / "src" / "usae" / "config.schema.yaml"
CHECKS = [
    ("torch", "cpu"),
    ("dag", "tiny config, every device cpu"),
    ("train", "embedded float32, usae"),
    ("train", "embedded float32, independent"),
    ("train", "embedded bf16 autocast, usae"),
    ("train", "embedded bf16 autocast, independent"),
    ("train", "embedded float32, 2 runs together, usae"),
    ("train", "embedded float32, 2 runs together, independent"),
    ("ranks", "embedded, 2 ranks, usae"),
    ("ranks", "embedded, 2 ranks, independent"),
    ("extract", "vit_b16 random, batch 2, 2 images, full pipeline"),
    ("extract", "vit_b16 random, batch 2, 2 images, bare forward"),
]
FIGURE = re.compile(r"(\d+(?:\.\d+)?) (s|tokens/s|images/s)")


def gpu_check(python, timeout):
    """Run the script on CPU with ``python`` (from another folder: it finds the repository itself);
    return the process and its summary table's rows."""
    env = {**{key: value for key, value in os.environ.items() if not key.startswith("GPU_CHECK_")}, "PYTHON": python}
    result = subprocess.run(
        ["bash", str(SCRIPT), "--device", "cpu"], capture_output=True, text=True, env=env, cwd="/", timeout=timeout
    )
    lines = result.stdout.splitlines()
    assert "== gpu_check summary (device cpu)" in lines, result.stdout[-3000:] + result.stderr[-3000:]
    table = lines[lines.index("== gpu_check summary (device cpu)") + 1 :]
    assert re.split(r"\s{2,}", table[0].strip()) == ["check", "setting", "figure", "status"]
    return result, [re.split(r"\s{2,}", line.strip()) for line in table[1:]]


def test_the_overlay_puts_every_device_setting_on_the_device():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]
    sections = [name for name, section in schema.items() if "device" in section.get("properties", {})]
    assert set(sections) >= {"extract", "train", "metrics", "explorer"}
    text = SCRIPT.read_text()
    missing = [name for name in sections if f"{name}: {{device: $DEVICE}}" not in text]
    assert not missing, f"benchmarks/gpu_check.sh: the DAG's overlay lacks {missing}"


def test_every_check_fails_and_the_exit_status_says_so():
    """A python that fails at once: each check is recorded FAILED, the others still run, exit 1."""
    result, rows = gpu_check(shutil.which("false"), timeout=60)
    assert result.returncode == 1
    assert [tuple(row[:2]) for row in rows] == CHECKS
    assert [row[-1] for row in rows] == ["FAILED"] * len(CHECKS)


@pytest.mark.integration
@pytest.mark.slow
def test_cpu_run_passes_every_check():
    result, rows = gpu_check(sys.executable, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert [tuple(row[:2]) for row in rows] == CHECKS
    assert [row[3] for row in rows] == ["ok"] * len(CHECKS), rows
    assert rows[0][2].startswith("2.") and rows[0][2].endswith(", cpu")  # torch version, device
    for check, setting, figure, _ in rows[1:]:
        match = FIGURE.fullmatch(figure)
        assert match and float(match.group(1)) > 0, (check, setting, figure)
