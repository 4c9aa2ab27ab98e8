"""Write the files generated from one source of truth, or check that they are current.

- ``src/usae/options.py``: a typed, frozen record per option section of ``src/usae/config.schema.yaml``
  (its keys, types, defaults and descriptions);
- ``docs/stages.md``: each stage's contract (its files, params and the config keys it reads), from the
  jobs that ``usae.jobs`` plans for the default config and a few variants of it.

``python tools/generate.py`` writes them (``make generate``); ``--check`` exits 1 naming a stale file.
The tests run the check too (``tests/test_generated.py``).
"""

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# The config sections that become records, by record name: each an object of scalar or array keys, named by
# its dotted path in a config (``dataset.embedded``: the experiment's dataset's; a record of any dataset entry
# is built with ``of``).
OPTION_SECTIONS = {
    "ExtractOptions": "extract",
    "TrainOptions": "train",
    "MetricsOptions": "metrics",
    "FiguresOptions": "figures",
    "BaselineOptions": "baseline",
    "ActmaxOptions": "actmax",
    "ExplorerOptions": "explorer",
    "EmbeddedOptions": "dataset.embedded",
}
SCALARS = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}


def _type(schema):
    """The Python annotation of a schema property."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    names = []
    for kind in kinds:
        if kind == "null":
            continue
        if kind == "array":
            names.append(f"tuple[{_type(schema['items'])}, ...]")
        elif "enum" in schema and kind == "string":
            names.append("Literal[" + ", ".join(map(_literal, schema["enum"])) + "]")
        else:
            names.append(SCALARS[kind])
    return " | ".join(names + (["None"] if "null" in kinds else []))


def _literal(value):
    """A default as ruff formats it: strings in double quotes, arrays as tuples."""
    if isinstance(value, list):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _doc(text, indent):
    lines = textwrap.wrap(" ".join(text.split()), 116 - len(indent) - 6)
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""\n'
    return f'{indent}"""' + f"\n{indent}".join(lines) + f'\n{indent}"""\n'


HEADER = '''"""Typed, frozen records of the config's option sections: one field per key, with its type, default and doc.

Generated from ``src/usae/config.schema.yaml`` by ``make generate`` (``tools/generate.py``): edit the schema,
not this file (``tests/test_generated.py`` fails when it is stale). Arrays are tuples. A record is built from
a validated config with ``<Record>.from_config(config)``; ``as_dict()`` gives the section back (lists again).
"""

from dataclasses import asdict, dataclass, replace
from typing import ClassVar, Literal


class Options:
    """What every record shares: ``SECTION``, its config key."""

    SECTION: ClassVar[str]

    @classmethod
    def from_config(cls, config, **changes):
        """The record of a validated config's section, with ``changes`` (key: value) over it."""
        for key in cls.SECTION.split("."):
            config = config[key]
        return cls.of(config, **changes)

    @classmethod
    def of(cls, values, **changes):
        """The record of a validated section's ``values``, with ``changes`` (key: value) over them."""
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
        return replace(cls(**values), **changes)

    def as_dict(self):
        """The section as the config spells it: a dict, arrays as lists."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
'''


def section_schema(section):
    """The schema of a config section by its dotted path (``dataset.embedded``: the dataset definition's)."""
    from usae.config import load_schema

    schema = load_schema()
    first, *rest = section.split(".")
    node = schema["definitions"][first] if rest else schema["properties"][first]
    for key in rest:
        node = node["properties"][key]
    return node


def options_source():
    """The text of ``src/usae/options.py``."""
    parts = [HEADER]
    for name, section in OPTION_SECTIONS.items():
        schema = section_schema(section)
        about = schema["description"]
        parts.append(f"\n\n@dataclass(frozen=True)\nclass {name}(Options):\n")
        parts.append(_doc(f"``{section}``: {about}.", "    "))
        parts.append(f'\n    SECTION: ClassVar[str] = "{section}"\n')
        for key, prop in schema["properties"].items():
            parts.append(f"\n    {key}: {_type(prop)} = {_literal(prop['default'])}\n")
            parts.append(_doc(prop["description"], "    "))
    return "".join(parts)


class Recording(dict):
    """A config mapping that records the dotted keys read from it (``section.*``: a section read whole)."""

    def __init__(self, values, read, prefix=""):
        super().__init__(values)
        self.read, self.prefix = read, prefix

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if isinstance(value, dict):
            return Recording(value, self.read, f"{self.prefix}{key}.")
        self.read.add(f"{self.prefix}{key}")
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default

    def items(self):
        self.read.add(f"{self.prefix}*")
        return super().items()


# The configs whose jobs show every stage: the default, then variants for the stages it does not run.
VARIANTS = {
    "the default config": {},
    "extract.parts: 2": {"extract": {"parts": 2}},
    "train.replicates: 2": {"train": {"replicates": 2}},
    "a sweep of train.lr trained together": {"sweeps": {"lr": {"together": 2, "train": {"lr": [0.001, 0.01]}}}},
    "released: a released USAE": {
        "released": {"config": "checkpoints/config.yaml", "models": {"A": "a", "B": "b"}},
        "models": ["a", "b"],
        "model_zoo": {"a": {"loader": "timm", "arch": "a"}, "b": {"loader": "timm", "arch": "b"}},
        "train": {"independent": False},
    },
}


@contextlib.contextmanager
def _scratch_folder():
    """Work in a scratch folder that holds a stand-in release (a yaml and empty ``.pth`` files)."""
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        Path("checkpoints").mkdir()
        zoo = {name: {"checkpoint_path": f"checkpoints/{name}.pth"} for name in "AB"}
        Path("checkpoints/config.yaml").write_text(
            json.dumps({"global": {"nb_components": 1024}, "sae_params": {"top_k": 32}, "model_zoo": zoo})
        )
        for name in "AB":
            Path(f"checkpoints/{name}.pth").touch()
        try:
            yield
        finally:
            os.chdir(here)


def _shown(value):
    """A job's file or files, as the default config names them (digests as ``<digest>``)."""
    paths = [value] if isinstance(value, str) else list(value)
    if not paths:
        return "(none)"
    text = re.sub(r"-[0-9a-f]{12}(?=/|$)", "-<digest>", str(paths[0]))
    return f"`{text}`" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


def _kind(value):
    """A param's type, as a reader names it."""
    if isinstance(value, list) and value:
        return f"list of {_kind(value[0])}"
    return "dict" if isinstance(value, dict) else "None" if value is None else type(value).__name__


def _keys(read, names):
    """The config keys read, model and sweep names as ``<name>``, a key dropped when its whole section is read."""
    keys = {re.sub(rf"\.({'|'.join(map(re.escape, names))})\.", ".<name>.", key) for key in read}
    return sorted(key for key in keys if not (key.count(".") and f"{key.rsplit('.', 1)[0]}.*" in keys - {key}))


def _contract(job, read, variant):
    """One stage's section of ``docs/stages.md``."""
    from usae import jobs

    name = job.stage + (" (a part)" if "part" in job.wildcards else "")
    doc = re.sub(r"(:\w+:)?``?([^`]+)``?", r"`\2`", getattr(jobs, job.stage).__doc__.split("\n\n")[0])
    lines = [
        f"## {name}",
        "",
        " ".join(doc.split()),
        "",
        f"- rule: `workflow/rules/{job.module}.smk`; function: `usae.stages.{job.module}.{job.stage}`; "
        f"command: `usae {job.module}`" + ("" if variant == "the default config" else f"; shown with {variant}"),
        "- inputs: " + ("; ".join(f"`{key}` {_shown(value)}" for key, value in job.input.items()) or "none"),
        "- outputs: " + "; ".join(f"`{key}` {_shown(value)}" for key, value in job.output.items()),
        "- params: " + ("; ".join(f"`{key}` ({_kind(value)})" for key, value in job.params().items()) or "none"),
        "- config keys: " + ", ".join(f"`{key}`" for key in read),
        "",
    ]
    return lines


STAGES_HEADER = """# Stages: what each one reads, writes and takes

Generated by `make generate` (`tools/generate.py`) from the jobs that `src/usae/jobs.py` plans: do not edit
(`tests/test_generated.py` fails when it is stale). Each stage is one function of `src/usae/stages/`, run by
the Snakemake rule of its name and by `usae <stage>`, as `function(**inputs, **outputs, **params)`. Paths are
the default config's (`results/`, the shared cache under `results/cache/`); `<digest>` names a content
address (docs/activation_store.md). Config keys are those read while the job is built (`section.*`: the
whole section, as a typed record of `src/usae/options.py`).
"""


def stages_markdown():
    """The text of ``docs/stages.md``."""
    from usae.config import load_config, validate_config
    from usae.jobs import stage_module

    default = load_config(ROOT / "config" / "config.yaml")
    lines, sections = [STAGES_HEADER], {}
    with _scratch_folder():
        for variant, changes in VARIANTS.items():
            values = {
                **default,
                **{
                    key: {**default[key], **value} if isinstance(value, dict) and key in ("extract", "train") else value
                    for key, value in changes.items()
                },
            }
            config = validate_config(json.loads(json.dumps(values)), variant)
            for planned in _jobs(config):
                key = (planned.stage, "part" in planned.wildcards)
                point = "/sweeps/" in planned.output_paths()[0] and planned.stage not in ("sweep", "train_group")
                if key in sections or point:
                    continue
                read = set()
                recording = Recording(config, read)
                job = _rebuilt(planned, config, recording)
                _ = job.input  # a function of the config for some stages: read it so that its keys are recorded
                if any(value is recording for value in job.params().values()):
                    read = {"*"}  # the stage takes the whole config
                for value in job.params().values():  # a record is its whole section
                    for record in value if isinstance(value, list) else [value]:
                        options = getattr(record, "options", record)
                        read |= {f"{options.SECTION}.*"} if hasattr(options, "SECTION") else set()
                sections[key] = _contract(job, _keys(read, [*config["models"], *config["sweeps"]]), variant)
    # A stage's section follows those of its module's first stage (extract_merge after extract), in the order
    # in which the variants' plans first run each module.
    modules = list(dict.fromkeys(stage_module(stage) for stage, _ in sections))
    order = sorted(sections, key=lambda key: modules.index(stage_module(key[0])))
    return "\n".join(lines + [line for key in order for line in sections[key]])


def _jobs(config):
    """The jobs planned for ``config`` (usae.jobs.planned_jobs) and, with ``extract.parts`` above 1, the
    first store's part and merge jobs, which the rules add."""
    from usae import jobs
    from usae.layout import Layout

    layout = Layout(config["results"])
    planned = jobs.planned_jobs(config, layout)
    if config["extract"]["parts"] == 1:
        return planned
    store = next(job for job in planned if job.stage == "extract").wildcards
    return [jobs.extract(config, layout, **store, part="0"), jobs.extract_merge(config, layout, **store), *planned]


def _rebuilt(planned, config, recording):
    """``planned`` built again from ``recording`` (``config`` as a :class:`Recording`), with its layout and
    wildcards."""
    from usae import jobs
    from usae.layout import Layout

    layout = Layout(config["results"])
    run_layout = layout if planned.stage in jobs.SHARED_STAGES else layout.for_run(jobs.runs(config)[0])
    if planned.stage == "train_group":
        return jobs.train_group(recording, run_layout, planned.wildcards["sweep"], int(planned.wildcards["group"]))
    return getattr(jobs, planned.stage)(recording, run_layout, **planned.wildcards)


GENERATED = {"src/usae/options.py": options_source, "docs/stages.md": stages_markdown}


def stale():
    """The generated files whose text differs from what their source gives now."""
    return [
        path for path, make in GENERATED.items() if not (ROOT / path).exists() or (ROOT / path).read_text() != make()
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale file")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"{path}: stale; run 'make generate'", file=sys.stderr)
        return 1 if found else 0
    for path, make in GENERATED.items():
        (ROOT / path).write_text(make())
    return 0


if __name__ == "__main__":
    sys.exit(main())
