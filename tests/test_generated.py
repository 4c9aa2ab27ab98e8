"""Generated files equal what their one source gives (tools/generate.py), and the records equal the schema."""

import dataclasses
import importlib.util
import typing
from pathlib import Path

import pytest

import usae.config
from usae import options
from usae.config import load_config, validate_config

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("generate", REPO / "tools" / "generate.py")
generate = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(generate)
RECORDS = [getattr(options, name) for name in generate.OPTION_SECTIONS]
PYTHON_TYPES = {"integer": int, "number": (int, float), "string": str, "boolean": bool, "array": tuple}


def test_no_generated_file_is_stale():
    assert generate.stale() == [], "run 'make generate'"


def test_the_check_names_a_stale_file(monkeypatch, capsys):
    monkeypatch.setattr(generate, "GENERATED", {**generate.GENERATED, "docs/stages.md": lambda: "# edited\n"})
    assert generate.main(["--check"]) == 1
    assert capsys.readouterr().err == "docs/stages.md: stale; run 'make generate'\n"


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.SECTION)
def test_each_record_has_a_field_per_schema_key_with_its_default_type_and_doc(record):
    schema = generate.section_schema(record.SECTION)["properties"]
    fields = {field.name: field for field in dataclasses.fields(record)}
    assert list(fields) == list(schema)
    hints = typing.get_type_hints(record)
    source = (REPO / "src/usae/options.py").read_text()
    for key, prop in schema.items():
        default = fields[key].default
        assert default == (tuple(prop["default"]) if isinstance(prop["default"], list) else prop["default"]), key
        kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        assert (
            default is None
            if "null" in kinds and prop["default"] is None
            else isinstance(default, PYTHON_TYPES[kinds[0]])
        ), key
        assert key in hints and prop["description"].split()[0] in source, key


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "efficientnet.yaml", "sweep_example.yaml"])
def test_a_record_gives_its_config_section_back(name, monkeypatch):
    monkeypatch.setattr(usae.config, "root_errors", lambda config: [])  # paper.yaml's data folders are not here
    config = load_config(REPO / "config" / name)
    for record in RECORDS:
        built = record.from_config(config)
        section = config
        for key in record.SECTION.split("."):
            section = section.get(key, {})
        assert built.as_dict() == section
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, dataclasses.fields(record)[0].name, None)  # a stage cannot change what it was given


def test_changes_apply_over_the_config():
    config = validate_config({"train": {"lr": 0.01}}, "test")
    built = options.TrainOptions.from_config(config, replicates=1, epochs=3)
    assert (built.lr, built.epochs, built.replicates) == (0.01, 3, 1)
    with pytest.raises(TypeError):
        options.TrainOptions.from_config(config, not_a_key=1)
