import pytest
import yaml

from usae.config import ConfigError, load_config, validate_config


def test_defaults_are_filled():
    config = validate_config({}, "x.yaml")
    assert config["dataset"]["source"] == "embedded"
    assert config["extract"]["grid"] == 7
    assert config["dataset"]["max_images"] == {"train": None, "val": None}


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"extrct": {}}, "cfg.yaml: unknown key 'extrct'"),
        ({"extract": {"gridd": 3}}, "cfg.yaml: unknown key 'extract.gridd'"),
        ({"extract": {"grid": "a"}}, "cfg.yaml: key 'extract.grid': 'a' is not of type 'integer'"),
        ({"models": ["only_one"]}, "cfg.yaml: key 'models'"),
        ({"dataset": {"name": "d", "source": "ftp"}}, "cfg.yaml: key 'dataset.source'"),
        ({"model_zoo": {"m": {"loader": "timm", "arch": "x", "layr": "a"}}}, "cfg.yaml: unknown key 'model_zoo.m.layr'"),
    ],
)
def test_errors_name_file_and_key(bad, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(bad, "cfg.yaml")
    message = str(error.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_shipped_configs_validate():
    for name in ["config/config.yaml", "config/paper.yaml"]:
        config = load_config(name)
        assert len(config["models"]) >= 2


def test_paper_config_holds_paper_models():
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
