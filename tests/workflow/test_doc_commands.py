"""Every command of a ``bash`` block in the README and the docs: run here, or named with why it is not.

A Snakemake command is run as a dry run (``-n``) in a copy of the workflow whose ``config/config.yaml`` is the
tiny test config (the other config files extend it, or are refused for what they need): its flags, config
files and profiles must parse and plan. A command that cannot run here says why, and where it is tested.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow.test_workflow import REPO, TINY_CONFIG, copy_workflow

pytestmark = pytest.mark.integration

# Documents whose blocks are one session, run in order by a test of their own.
SEQUENCES = {"docs/dvc.md": "tests/workflow/test_workflow.py::test_the_dvc_sequence_of_the_docs_runs_verbatim"}
DOCUMENTS = [
    name
    for name in [
        "README.md",
        "config/README.md",
        *(str(path.relative_to(REPO)) for path in (REPO / "docs").glob("*.md")),
    ]
    if name not in SEQUENCES
]

# Commands that do not run here, each with the reason (and where the path is tested instead).
NOT_RUN = {
    "make run": "the whole default, 15 minutes: benchmarks/fresh_clone.py measures it on a fresh clone",
    "make test": "the test suite itself (.ci/run runs it)",
    ". .venv/bin/activate": "activates a shell's environment; the commands below run with this one's",
    "pip install -r requirements.lock": "installs the environment (make runs it on every fresh machine)",
    "snakemake --cores all --configfile config/paper.yaml": "needs ImageNet and the paper's weights",
    "snakemake --profile profiles/slurm --configfile config/paper.yaml": "needs ImageNet and a SLURM cluster",
    "snakemake --profile profiles/slurm": "needs a SLURM cluster (make test-slurm starts one)",
    "snakemake --cores all --use-conda": "conda's channels are unreachable here (tests/workflow/test_envs.py)",
    "snakemake --cores all --configfile config/paper_released.yaml": "needs the released checkpoints and ImageNet",
    "snakemake --report results/report.html": "needs a finished run (tests/workflow/test_workflow.py)",
    "usae train --config config/config.yaml": "needs the extracted stores (tests/test_cli.py runs each stage)",
    "usae train --config config/paper.yaml": "needs ImageNet and the paper's weights",
    "dvc repro; dvc exp run -S train.lr=0.001": "tests/workflow/test_workflow.py runs docs/dvc.md's sequence",
    "snakemake --cores all --configfile my.yaml": "my.yaml stands for the reader's own config",
    "snakemake --cores all -n --configfile my_sweep.yaml": "my_sweep.yaml stands for the reader's own sweep",
    "usae sweep --config my_full_config.yaml": "my_full_config.yaml stands for the reader's own config",
    "usae import-official downloads/usae_release/config_dino_siglip_vit.yaml --out runs/official_usae": (
        "needs the released checkpoints (tests/test_cli_official.py imports a synthetic release)"
    ),
    "usae export-official runs/official_usae --out runs/official_usae_pth": "needs an imported release (same test)",
    ".venv/bin/python benchmarks/search.py --work /tmp/zoosearch --candidates benchmarks/search_zoo.yaml "
    "--cache results/cache --cores 2 --rerun-triggers mtime input --only zoo_default zoo_e10 zoo_e40 zoo_lr003": (
        "the zoo's budget search, hours of training on 2 cores (tests/test_benchmarks_search.py checks its candidates)"
    ),
    "usae encode --run results/train/usae --model mobilenet_v2 photo1.jpg photo2.jpg --out codes.npz "
    "--decode-into efficientnet_lite0": "needs a trained run and your photographs (tests/test_cli_encode.py)",
}


def commands(markdown):
    """The commands of every ``bash`` block, comments dropped, continued lines joined."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                found.append(re.sub(r"\s+", " ", command))
    return found


def is_synopsis(command):
    """A usage line (``usae fetch [--config FILE] ...``, ``--model NAME``), not a command."""
    return bool(re.search(r"\[|\.\.\.|<\w+>|\b[A-Z][A-Z_]{2,}\b", command))


DOCUMENTED = sorted({(name, command) for name in DOCUMENTS for command in commands((REPO / name).read_text())})


def test_every_documented_command_is_run_or_says_why_not():
    documented = {command for _, command in DOCUMENTED}
    assert not set(NOT_RUN) - documented, f"no longer documented: {sorted(set(NOT_RUN) - documented)}"
    runnable = [command for command in documented if command not in NOT_RUN and not is_synopsis(command)]
    assert runnable and all(command.startswith(("snakemake", "usae --help")) for command in runnable), runnable


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("doc_commands"), TINY_CONFIG.read_text())
    shutil.copytree(REPO / "profiles", workdir / "profiles")
    return workdir


@pytest.mark.parametrize(
    "document, command",
    [(name, command) for name, command in DOCUMENTED if command not in NOT_RUN and not is_synopsis(command)],
)
def test_a_documented_command_plans_on_the_tiny_config(workdir, document, command):
    """``snakemake`` commands as dry runs; ``usae --help`` as it is."""
    bin_dir = Path(sys.executable).parent
    run = f"{command} -n" if command.startswith("snakemake") and " -n" not in command else command
    result = subprocess.run(
        ["bash", "-c", f'PATH="{bin_dir}:$PATH"; {run}'], cwd=workdir, capture_output=True, text=True
    )
    assert result.returncode == 0, (document, command, result.stdout[-1500:], result.stderr[-1500:])
    if command.startswith("snakemake"):
        assert "Job stats" in result.stdout + result.stderr or "Nothing to be done" in result.stdout + result.stderr
