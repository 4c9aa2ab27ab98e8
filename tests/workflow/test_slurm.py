"""The workflow on a real SLURM cluster: one node on this machine, the SLURM executor plugin, profiles/slurm.

The cluster fixture installs SLURM and MUNGE with apt-get if they are missing (root only), writes a
munge key and a slurm.conf into a temporary folder, and starts munged, slurmctld and slurmd in the
foreground as child processes; it stops them by process id at the end. No accounting database: the
plugin reads job states from squeue, which keeps finished jobs for MinJobAge seconds.

The tiny config (.test/config) then runs twice: locally (one extraction job per store) and with the
SLURM profile (profiles/slurm with the test cluster's partition, and profiles/slurm-test's changes),
extracting each store in two parts. Every non-local job must have run as a SLURM job, and the results
must equal the local run's byte for byte (CPU runs are deterministic).
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.test_workflow import REPO, TINY_CONFIG, copy_workflow

PARTITION = "usaetest"
DAEMONS = {"munged": "/usr/sbin/munged", "slurmctld": "/usr/sbin/slurmctld", "slurmd": "/usr/sbin/slurmd"}
CLIENTS = ("sbatch", "squeue", "sinfo", "scancel", "srun")
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
# Rules Snakemake runs itself: tables (localrule), all (no action); fetch too when a dataset downloads
# (workflow/rules/common.smk), not for the tiny config's embedded photographs.
LOCAL_RULES = {"tables", "all"}


def slurm_installed():
    return all(Path(path).exists() for path in DAEMONS.values()) and all(shutil.which(c) for c in CLIENTS)


def install_slurm():
    """Install SLURM and MUNGE from the distribution; skip the module (one line) where that is impossible."""
    if slurm_installed():
        return
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("SLURM test: needs slurmctld, slurmd and munged, or root and apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        check=True,
        capture_output=True,
        env=env,
    )
    if not slurm_installed():
        pytest.skip("SLURM test: the installed packages lack slurmctld, slurmd or munged")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_memory_mb():
    """Memory SLURM may hand out: nine tenths of MemTotal (slurmd refuses a node that declares more)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 * 9 // 10
    raise RuntimeError("no MemTotal in /proc/meminfo")


def slurm_conf(folder, cpus, memory_mb):
    """One node (localhost), one partition; no cgroups, no accounting, finished jobs kept 10 minutes."""
    return f"""\
ClusterName=usaetest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
MinJobAge=600
ReturnToService=2
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """A running one-node cluster: its environment (SLURM_CONF) and the daemons it started.

    The environment's PATH starts with a folder whose ``srun`` and ``scontrol`` run the real ones with
    SLURM_CONF set: the plugin's job step drops every SLURM_* variable but the job's identity before its
    nested ``srun`` (and the train job's, which asks ``scontrol`` for its tasks and starts its ranks with
    ``srun``), and this cluster's slurm.conf is not in /etc/slurm (a real cluster's is, or is served
    configless), so without it they find no configuration.
    """

    def __init__(self, folder):
        self.folder = folder
        conf = folder / "slurm.conf"
        shims = folder / "bin"
        shims.mkdir()
        for command in ("srun", "scontrol"):
            (shims / command).write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which(command)} "$@"\n')
            (shims / command).chmod(0o755)
        self.env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.daemons = []

    def start(self, name, *args):
        log = open(self.folder / "log" / f"{name}.out", "w")
        self.daemons.append(
            (
                name,
                subprocess.Popen(
                    [DAEMONS[name], *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
                ),
            )
        )

    def run(self, *command):
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60)

    def wait_idle(self, seconds=60):
        """Wait until the node is idle; fail with the daemons' logs otherwise."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self.run("sinfo", "--noheader", "--format=%T", "--partition", PARTITION).stdout.strip()
            if state == "idle":
                return
            time.sleep(1)
        logs = "\n".join(path.read_text()[-2000:] for path in sorted((self.folder / "log").iterdir()))
        raise RuntimeError(f"SLURM node not idle after {seconds} s (state {state!r}):\n{logs}")

    def stop(self):
        """Cancel this cluster's jobs, then stop the daemons in reverse order, each by its process id."""
        jobs = self.run("squeue", "--noheader", "--format=%i", "--states=PENDING,RUNNING").stdout.split()
        if jobs:
            self.run("scancel", *jobs)
        for _name, process in reversed(self.daemons):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """munged, slurmctld and slurmd on this machine, with their files in a temporary folder."""
    if os.environ.get("USAE_TEST_SLURM") != "1":
        pytest.skip("SLURM test: 6 to 10 minutes; run `make test-slurm` (or set USAE_TEST_SLURM=1)")
    install_slurm()
    folder = tmp_path_factory.mktemp("slurm")
    for name in ["munge", "state", "spool", "log"]:
        (folder / name).mkdir()
    (folder / "munge").chmod(0o711)
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (folder / "slurm.conf").write_text(slurm_conf(folder, os.cpu_count(), node_memory_mb()))
    running = Cluster(folder)
    try:
        running.start(
            "munged",
            "--foreground",
            "--force",
            f"--socket={folder}/munge/munge.sock",
            f"--key-file={key}",
            f"--pid-file={folder}/munge/munged.pid",
            f"--log-file={folder}/log/munged.log",
            f"--seed-file={folder}/munge/seed",
        )
        deadline = time.monotonic() + 20
        while not (folder / "munge" / "munge.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        running.start("slurmctld", "-D", "-i")
        running.start("slurmd", "-D", "-N", "localhost")
        running.wait_idle()
        yield running
    finally:
        running.stop()


def merged(base, changes):
    """``base`` with ``changes``: mappings merged key by key, a None value removes the key, else replaced."""
    result = dict(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def slurm_test_profile(folder, partition):
    """profiles/slurm with ``partition`` for every partition name, and profiles/slurm-test's changes."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    resources = [profile["default-resources"], *profile["set-resources"].values()]
    for entry in resources:
        if "slurm_partition" in entry:
            entry["slurm_partition"] = partition
    profile = merged(profile, yaml.safe_load((REPO / "profiles/slurm-test/config.yaml").read_text()))
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def tiny_config(device="cpu", ranks=1, **extract):
    """The tiny config with every stage on ``device`` ("cpu": no GPU is asked for), training on ``ranks`` ranks,
    and extra ``extract`` keys."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["extract"] = {**config["extract"], "device": device, **extract}
    for section in ["train", "metrics", "explorer"]:
        config[section] = {**config.get(section, {}), "device": device}
    config["train"]["ranks"] = ranks
    return yaml.safe_dump(config)


def digests(results):
    """sha256 of the results that must not depend on where the jobs ran."""
    chosen = [
        *results.glob("cache/activations/**/*.*"),
        *results.glob("train/*/model.*"),
        *results.glob("train/*/log.csv"),
        *results.glob("metrics/**/*.*"),
        *results.glob("tables/*.*"),
        *results.glob("baseline/*.csv"),
        results / "scorecard.json",
    ]
    return {str(path.relative_to(results)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(chosen)}


def snakemake(workdir, env, *args, timeout=1500):
    command = [sys.executable, "-m", "snakemake", *args]
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, env=env, timeout=timeout)


# Rules that declare gpu=uses_gpu(<section>.device) (the plugin's --gpus=1 and --cpus-per-gpu).
GPU_RULES = {"extract", "train", "metrics", "actmax", "explorer", "sweep_train", "sweep_metrics"}
# Options the plugin sets itself and refuses in slurm_extra (its validation.py).
PLUGIN_OPTIONS = ("--gres", "--gpus", "--mem", "--cpus-per", "--ntasks", "--time", "--partition", "--account")


def test_slurm_profile_follows_the_plugin_conventions():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm" and "use-conda" not in profile
    assert profile["software-deployment-method"] == "conda"
    assert "cpus_per_task" not in profile["default-resources"]  # it would override cpus_per_gpu
    rules = set(profile["set-resources"])
    assert rules <= GPU_RULES | {"fetch", "extract_merge", "baseline", "figures", "sweep_baseline"}
    for rule, resources in profile["set-resources"].items():
        assert not any(option in str(resources.get("slurm_extra", "")) for option in PLUGIN_OPTIONS), rule
        assert {"mem_mb", "runtime"} <= set(resources), rule
        assert resources.get("slurm_partition", profile["default-resources"]["slurm_partition"]) == (
            "gpu" if rule in GPU_RULES else "cpu"
        ), rule
    assert set(profile["set-threads"]) <= set(profile["set-resources"])


@pytest.mark.integration
def test_profiles_parse_with_the_slurm_plugin(tmp_path):
    """A dry run with each profile: no parse-time error; GPU rules ask for one GPU and a CPU per thread.

    ``--sdm env-modules`` stands in for the profile's conda (no rule declares modules), which a dry run
    would look for; ``--cores 8`` keeps a dry run from capping threads at one core.
    """
    workdir = copy_workflow(tmp_path, tiny_config("auto", parts=2))
    for name in ["slurm", "local"]:
        run = snakemake(
            workdir,
            os.environ,
            "--profile",
            str(REPO / "profiles" / name),
            "-n",
            "--cores",
            "8",
            "--sdm",
            "env-modules",
        )
        assert run.returncode == 0, run.stderr[-3000:]
        extract = next(job for job in run.stdout.split("\n[") if "rule extract:" in job)
        merge = next(job for job in run.stdout.split("\n[") if "rule extract_merge:" in job)
        assert "gpu=1" in extract and "gpu=" not in merge
        if name == "slurm":
            assert "threads: 8" in extract and "cpus_per_gpu=8" in extract and "slurm_partition=gpu" in extract
            assert "slurm_partition=cpu" in merge


@pytest.mark.integration
@pytest.mark.slow
def test_tiny_dag_on_slurm_equals_local_run(cluster, tmp_path):
    (tmp_path / "local").mkdir()
    # Both train on 2 gloo ranks (train.ranks): the train jobs start them inside their SLURM job.
    local = copy_workflow(tmp_path / "local", tiny_config(ranks=2))
    run = snakemake(local, os.environ, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]

    (tmp_path / "slurm").mkdir()
    on_slurm = copy_workflow(tmp_path / "slurm", tiny_config(ranks=2, parts=2))
    profile = slurm_test_profile(tmp_path / "profile", PARTITION)
    started = time.monotonic()
    run = snakemake(on_slurm, cluster.env, "--profile", str(profile))
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-5000:]
    print(f"tiny DAG on SLURM: {elapsed:.0f} s")

    # Every job but the local rules was a SLURM job: squeue still lists them (MinJobAge), the plugin
    # put the rule's name in each job's comment, and each left its log in .snakemake/slurm_logs.
    jobs = [
        line.split("|")
        for line in cluster.run("squeue", "--states=all", "--noheader", "--format=%i|%T|%k").stdout.split()
    ]
    rules = sorted(comment.split("_wildcards")[0].removeprefix("rule_") for _, _, comment in jobs)
    assert {state for _, state, _ in jobs} == {"COMPLETED"}, jobs
    expected = {
        "fetch": 2,
        "extract": 8,
        "extract_merge": 4,
        "train": 2,
        "metrics": 1,
        "baseline": 1,
        "actmax": 1,
        "figures": 1,
        "explorer": 1,
    }
    assert {rule: rules.count(rule) for rule in set(rules)} == expected
    logs = {
        path.parts[0].removeprefix("rule_")
        for path in (
            p.relative_to(on_slurm / ".snakemake/slurm_logs")
            for p in (on_slurm / ".snakemake/slurm_logs").rglob("*.log")
        )
    }
    assert logs == set(expected) and not logs & LOCAL_RULES
    # The merge deleted the parts. (The jobs ran the workflow's copy of src/, put first on sys.path by
    # workflow/scripts/stage.py: an installed usae without extract.parts would have failed them.)
    assert not list((on_slurm / "results/cache/activations").rglob("parts"))

    assert digests(on_slurm / "results") == digests(local / "results")
    # Each train job ran its 2 ranks as the 2 tasks of an srun step (mpi: the job asked for 2 tasks); both said so
    # in the job's log, and rank 0 logged the progress. The local run started its ranks itself.
    for kind in ("usae", "independent"):
        text = (on_slurm / f"results/logs/train/{kind}.log").read_text()
        assert "starting 2 ranks as srun tasks" in text, text[-2000:]
        assert "starting 2 ranks on this machine" in (local / f"results/logs/train/{kind}.log").read_text()
        assert "rank 0 of 2: 1 of each batch's 2 images" in text and "rank 1 of 2: 1 of each" in text, text[-2000:]
        assert f"train {kind}: 6/6 step (100%)" in text
    again = snakemake(on_slurm, cluster.env, "--profile", str(profile), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
