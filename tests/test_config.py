from pathlib import Path

import pytest
import yaml

import usae.config
from usae.config import load_config, load_schema, validate_config
from usae.errors import ConfigError


def test_defaults_are_filled():
    config = validate_config({}, "x.yaml")
    assert config["dataset"]["source"] == "embedded"
    assert config["extract"]["grid"] == 7
    assert config["dataset"]["max_images"] == {"train": None, "val": None}


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"extrct": {}}, "cfg.yaml: unknown key 'extrct' (did you mean 'extract'?)"),
        ({"extract": {"gridd": 3}}, "cfg.yaml: unknown key 'extract.gridd' (did you mean 'grid'?)"),
        ({"train": {"learning_rate": 3}}, "cfg.yaml: unknown key 'train.learning_rate'\n"),
        ({"extract": {"grid": "a"}}, "cfg.yaml: key 'extract.grid': 'a' is not of type 'integer'"),
        ({"models": ["only_one"]}, "cfg.yaml: key 'models'"),
        ({"dataset": {"name": "d", "source": "ftp"}}, "cfg.yaml: key 'dataset.source'"),
        (
            {"model_zoo": {"m": {"loader": "timm", "arch": "x", "layr": "a"}}},
            "cfg.yaml: unknown key 'model_zoo.m.layr'",
        ),
        (
            {"model_zoo": {"m": {"base": "mobilenet_v9", "image_size": 448}}},
            "cfg.yaml: key 'model_zoo.m.base': 'mobilenet_v9' is not a built-in model (known: dinov2_vits14, ",
        ),
        (
            {"model_zoo": {"m": {"base": "mobilenet_v1", "image_sise": 448}}},
            "cfg.yaml: unknown key 'model_zoo.m.image_sise' (did you mean 'image_size'?)",
        ),
    ],
)
def test_errors_name_file_and_key(bad, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(bad, "cfg.yaml")
    message = str(error.value)
    assert (message + "\n").startswith(expected)  # a "\n" ending ``expected``: nothing follows
    assert "\n" not in message


@pytest.fixture
def no_dataset_folders(monkeypatch):
    """The paper's configs name ImageNet, DTD and CelebA folders that this machine lacks."""
    monkeypatch.setattr(usae.config, "root_errors", lambda config: [])


def test_a_model_zoo_entry_starts_from_its_base_and_changes_what_it_names():
    from usae.models.registry import BUILTIN_MODELS

    zoo = validate_config({"model_zoo": {"big": {"base": "resnet50_1by2_opennsfw", "image_size": 448}}}, "c")[
        "model_zoo"
    ]
    assert "base" not in zoo["big"]
    assert zoo["big"] == {
        **BUILTIN_MODELS["resnet50_1by2_opennsfw"],
        "image_size": 448,
        "prefix_tokens": None,  # schema defaults fill what the built-in leaves out
        "kwargs": {},
        "weights": {**BUILTIN_MODELS["resnet50_1by2_opennsfw"]["weights"], "prefix": ""},
    }


def test_the_zoo_reads_eight_networks_each_natively_on_the_common_grid(no_dataset_folders):
    """config/zoo.yaml: eight models of five families at image sizes whose read layer is 14x14 (checked by the
    stride of each read layer: 32 for the CNNs but VGG16's block5, 16; DINOv2's 14-px patches)."""
    from usae.models.loaders import model_spec
    from usae.models.registry import model_families

    config = load_config("config/zoo.yaml")
    assert len(config["models"]) == 8 and config["results"] == "results/zoo"
    assert len(set(model_families(config["models"], config["model_zoo"]).values())) == 5
    stride = {"dinov2_vits14_imgfocus_block8": 14, "vgg16_capspot": 16}
    sizes = {name: model_spec(name, config["model_zoo"]).image_size for name in config["models"]}
    assert {name: size // stride.get(name, 32) for name, size in sizes.items()} == dict.fromkeys(sizes, 14)
    assert config["extract"]["grid"] == 14


def test_shipped_configs_validate(no_dataset_folders):
    for name in ["config/config.yaml", "config/paper.yaml", "config/zoo.yaml"]:
        config = load_config(name)
        assert len(config["models"]) >= 2


def test_paper_config_holds_paper_models(no_dataset_folders):
    config = load_config("config/paper.yaml")
    assert config["models"] == ["siglip_vitb16", "dinov2_vits14", "vit_b16"]
    assert config["extract"]["grid"] == 14


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(broken)


def test_schema_file_in_workflow_is_the_package_schema():
    from usae.config import load_schema

    with open("workflow/schemas/config.schema.yaml") as handle:
        assert yaml.safe_load(handle) == load_schema()


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"train": {"n_concepts": 16, "k": 32}}, "key 'train.k': 32 active concepts, more than train.n_concepts (16)"),
        (
            {"train": {"n_concepts": 16, "k": 4}, "actmax": {"concepts": [3, 16]}},
            "key 'actmax.concepts': concept 16 does not exist",
        ),
        (
            {"model_zoo": {"hub": {"loader": "torchhub", "arch": "owner/repo"}}},
            "key 'model_zoo.hub.arch': a torch.hub model is 'owner/repo:entrypoint', got 'owner/repo'",
        ),
        ({"models": ["../../x", "b"]}, "key 'models.0': '../../x' does not match"),
        ({"dataset": {"name": "..", "source": "embedded"}}, "key 'dataset.name': '..' does not match"),
    ],
)
def test_constraints_between_keys_and_safe_names(bad, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(bad, "cfg.yaml")
    assert str(error.value).startswith(f"cfg.yaml: {expected}")


def test_merged_configs_name_the_file_that_set_the_bad_key(tmp_path):
    from usae.config import resolve_config

    base, extra = tmp_path / "base.yaml", tmp_path / "extra.yaml"
    base.write_text("train: {k: 8}\nseed: 1\n")
    extra.write_text("extends: base.yaml\ntrain: {k: 4000}\n")
    with pytest.raises(ConfigError, match=f"^{extra}: key 'train.k'"):
        resolve_config([extra])
    with pytest.raises(ConfigError, match="^--config: key 'seed'"):
        resolve_config([base], {"seed": "x"})
    base.write_text("seed: y\n")
    with pytest.raises(ConfigError, match=f"^{base}: key 'seed'"):
        resolve_config([extra, tmp_path / "base.yaml"])


def test_a_file_is_its_whole_experiment_with_what_it_extends(tmp_path):
    from usae.config import resolve_config

    (tmp_path / "sub").mkdir()
    base, child = tmp_path / "base.yaml", tmp_path / "sub" / "child.yaml"
    base.write_text("seed: 3\ntrain: {k: 8, lr: 0.01}\nmodel_zoo: {m: {loader: timm, arch: a, image_size: 448}}\n")
    child.write_text("extends: ../base.yaml\ntrain: {k: 4}\nmodel_zoo: {m: {loader: timm, arch: a}}\n")
    config = load_config(child)
    assert config["seed"] == 3 and config["train"]["k"] == 4 and config["train"]["lr"] == 0.01
    assert config["model_zoo"]["m"]["image_size"] == 448  # mappings merge key by key
    assert "extends" not in config
    assert load_config(base)["train"]["k"] == 8  # nothing is merged into a file that extends nothing
    assert resolve_config([child], {"train": {"lr": "0.001", "epochs": "3"}})["train"]["lr"] == 0.001  # typed
    assert resolve_config([child], {"results": "123"})["results"] == "123"  # a string where the schema wants one


def test_extends_errors_are_one_line(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\n")
    b.write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"key 'extends' makes a loop \(.*a.yaml -> .*b.yaml -> .*a.yaml\)"):
        load_config(a)
    a.write_text("extends: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(a)
    a.write_text("extends: [x]\n")
    with pytest.raises(ConfigError, match=f"^{a}: key 'extends': the path of a config file"):
        load_config(a)


def test_the_results_root_is_checked_up_front(tmp_path):
    (tmp_path / "file").write_text("")
    for results, expected in [
        ("", "cfg.yaml: key 'results': '' should be non-empty"),
        (str(tmp_path / "file"), f"cfg.yaml: key 'results': '{tmp_path}/file' is a file, not a folder"),
        (
            str(tmp_path / "file/sub"),
            f"cfg.yaml: key 'results': '{tmp_path}/file/sub' is under '{tmp_path}/file', which is a file, not a folder",
        ),
    ]:
        with pytest.raises(ConfigError) as error:
            validate_config({"results": results}, "cfg.yaml")
        assert str(error.value) == expected
    assert validate_config({"results": str(tmp_path / "new/deeper")}, "cfg.yaml")["results"] == str(
        tmp_path / "new/deeper"
    )


def _released(tmp_path, **sections):
    """A config evaluating a stand-in release (tests/official_release.py) mapped onto three model names."""
    from tests.official_release import write_release

    path, _ = write_release(tmp_path)
    names = {"SigLIP": "alpha", "DinoV2": "beta", "ViT": "gamma"}
    config = {
        "dataset": {"name": "mine", "source": "activations"},
        "models": list(names.values()),
        "released": {"config": str(path), "models": names},
        "results": str(tmp_path / "results"),
        "train": {"independent": False},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config, path


def test_a_released_usae_trains_nothing_and_extracts_val_only(tmp_path):
    from usae.config import dataset_splits
    from usae.jobs import planned_jobs
    from usae.layout import Layout

    config = validate_config(_released(tmp_path)[0], "cfg.yaml")
    assert dataset_splits(config, "dataset") == ["val"]
    stages = [job.stage for job in planned_jobs(config, Layout(config["results"]))]
    assert "train" not in stages and "baseline" not in stages and stages[0] == "released"
    independent = validate_config(_released(tmp_path, train={"independent": True, "n_concepts": 32, "k": 4})[0], "c")
    assert dataset_splits(independent, "dataset") == ["train", "val"]
    assert [job.wildcards for job in planned_jobs(independent, Layout(config["results"])) if job.stage == "train"] == [
        {"kind": "independent"}
    ]


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"models": ["alpha", "beta"]}, "cfg.yaml: key 'models': alpha, beta, but the released USAE ("),
        ({"train": {"replicates": 2}}, "cfg.yaml: key 'train.replicates': the released USAE is one run"),
        ({"sweeps": {"s": {"train": {"lr": [0.1, 0.2]}}}}, "cfg.yaml: key 'sweeps': a sweep trains its points"),
        (
            {"train": {"independent": True}},
            "cfg.yaml: key 'train.n_concepts': independent SAEs matched to the released USAE need its m = 32 and k = 4",
        ),
        ({"actmax": {"concepts": [40]}}, "cfg.yaml: key 'actmax.concepts': concept 40 does not exist (the released"),
    ],
)
def test_released_config_errors_are_one_line(tmp_path, change, expected):
    config, _ = _released(tmp_path, **change)
    with pytest.raises(ConfigError) as error:
        validate_config(config, "cfg.yaml")
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_released_files_missing_or_broken_are_named(tmp_path):
    config, path = _released(tmp_path)
    (path.parent / "uni_DinoV2_checkpoint_29.pth").unlink()
    with pytest.raises(ConfigError, match=r"key 'released.checkpoints': .*uni_DinoV2_checkpoint_29.pth missing"):
        validate_config(config, "cfg.yaml")
    path.write_text("model_zoo: [")
    with pytest.raises(ConfigError, match=rf"cfg.yaml: key 'released.config': {path}: not YAML"):
        validate_config(config, "cfg.yaml")


def test_a_file_of_overrides_keeps_the_base_values_of_its_nulls(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"seed": 3, "train": {"lr": 0.01, "k": 8, "n_concepts": 64}}))
    over = tmp_path / "over.yaml"
    over.write_text(
        yaml.safe_dump(
            {"overrides": "base.yaml", "seed": None, "train": {"lr": 0.002, "k": None}, "extract": {"grid": None}}
        )
    )
    resolved = load_config(over)
    assert resolved == load_config(base) | {"train": {**load_config(base)["train"], "lr": 0.002}}
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump({"overrides": "base.yaml", "extends": "base.yaml"}))
    with pytest.raises(ConfigError, match="keys 'extends' and 'overrides': name one base file"):
        load_config(both)


def test_the_dvc_params_file_lists_keys_that_cannot_be_null_and_changes_nothing():
    """params.yaml's nulls stand for config/config.yaml's values: none of its keys may take null itself."""
    repo = Path(__file__).resolve().parents[1]
    schema = load_schema()["properties"]

    def leaves(values, path=()):
        for key, value in values.items():
            yield from leaves(value, path + (key,)) if isinstance(value, dict) else [(path + (key,), value)]

    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params.pop("overrides") == "config/config.yaml"
    for path, value in leaves(params):
        entry = schema[path[0]]
        for key in path[1:]:
            entry = entry["properties"][key]
        assert value is None and "null" not in entry.get("type", []), path
    assert load_config(repo / "params.yaml") == load_config(repo / "config" / "config.yaml")


def test_dataset_folders_are_checked_when_a_config_file_is_resolved(tmp_path):
    """validate_config reads no file system; resolving a config file checks every dataset folder it names."""
    (tmp_path / "a_file").write_text("")
    (tmp_path / "images").mkdir()
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"dataset": {"name": "d", "source": "folder", "root": str(tmp_path / "images")}}))
    assert load_config(base)["dataset"]["root"] == str(tmp_path / "images")
    cases = {
        "missing": ({"root": str(tmp_path / "nope")}, f"dataset folder '{tmp_path / 'nope'}' does not exist"),
        "file": ({"root": str(tmp_path / "a_file")}, f"dataset folder '{tmp_path / 'a_file'}' is not a folder"),
    }
    for name, (dataset, problem) in cases.items():
        top = tmp_path / f"{name}.yaml"
        top.write_text(
            yaml.safe_dump({"extends": "base.yaml", "dataset": {"name": "d", "source": "folder", **dataset}})
        )
        with pytest.raises(ConfigError) as error:
            load_config(top)
        assert str(error.value) == f"{top}: key 'dataset.root': {problem}"  # the file that set the root
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"extends": "base.yaml", "eval_datasets": [{"name": "e", "source": "folder"}]}))
    with pytest.raises(ConfigError, match=r"extra.yaml: key 'eval_datasets\[0\].root': source 'folder' reads a folder"):
        load_config(extra)


def test_ranks_must_share_the_batch_equally():
    with pytest.raises(
        ConfigError, match="^c.yaml: key 'train.ranks': 3 ranks cannot share train.batch_images \\(32\\) equally$"
    ):
        validate_config({"train": {"ranks": 3}}, "c.yaml")
    assert validate_config({"train": {"ranks": 4}}, "c.yaml")["train"]["ranks"] == 4


def test_ranks_on_gpus_must_fit_the_gpus_snakemake_was_given():
    from usae.config import check_gpu_resource

    on_gpus = validate_config({"train": {"ranks": 4, "device": "cuda"}}, "c.yaml")
    with pytest.raises(ConfigError, match="^key 'train.ranks': 4 ranks need gpu=4, but Snakemake was given gpu=2 "):
        check_gpu_resource(on_gpus, 2)
    check_gpu_resource(on_gpus, 4)
    check_gpu_resource(on_gpus, None)  # not limited: a cluster schedules the GPUs
    check_gpu_resource(validate_config({"train": {"ranks": 4, "device": "cpu"}}, "c.yaml"), 1)  # gloo, no GPU
