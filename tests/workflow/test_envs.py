"""The conda environments pin the same versions as requirements.lock."""

from pathlib import Path

import yaml


def _lock():
    pins = {}
    for line in Path("requirements.lock").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_conda_envs_match_the_lock():
    lock = _lock()
    assert lock["torch"] == "2.13.0"  # a lock must never say +cpu: that build is not on the registry
    for env_file in [Path("environment.yml"), *Path("workflow/envs").glob("*.yaml")]:
        env = yaml.safe_load(env_file.read_text())
        pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
        for requirement in pip:
            name, version = requirement.split("==")
            assert lock[name.lower()] == version, f"{env_file}: {name}"


def test_every_rule_env_exists():
    for rule_file in Path("workflow/rules").glob("*.smk"):
        for line in rule_file.read_text().splitlines():
            if line.strip().startswith('"../envs/'):
                assert (Path("workflow/rules") / line.strip().strip('"')).exists(), line


def test_no_deps_packages_are_installed_everywhere():
    """requirements-nodeps.lock (Makefile) and the rule environment's post-deploy script agree."""
    pins = [line for line in Path("requirements-nodeps.lock").read_text().splitlines() if "==" in line]
    post_deploy = Path("workflow/envs/usae.post-deploy.sh").read_text()
    assert pins and all(pin in post_deploy for pin in pins)
    assert "--no-deps -r requirements-nodeps.lock" in Path("Makefile").read_text()
