"""Write the files generated from one source of truth, or check that they are current.

- ``src/usae/options.py``: a typed, frozen record per option section of ``src/usae/config.schema.yaml``
  (its keys, types, defaults and descriptions).

``python tools/generate.py`` writes them (``make generate``); ``--check`` exits 1 naming a stale file.
The tests run the check too (``tests/test_generated.py``).
"""

import argparse
import json
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# The config sections that become records, in schema order: each an object of scalar or array keys.
OPTION_SECTIONS = ("extract", "train", "metrics", "figures", "baseline", "actmax", "explorer")
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
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in config[cls.SECTION].items()}
        return replace(cls(**values), **changes)

    def as_dict(self):
        """The section as the config spells it: a dict, arrays as lists."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
'''


def options_source():
    """The text of ``src/usae/options.py``."""
    from usae.config import load_schema

    properties = load_schema()["properties"]
    parts = [HEADER]
    for section in OPTION_SECTIONS:
        schema = properties[section]
        name = f"{section.capitalize()}Options"
        about = schema["description"]
        parts.append(f"\n\n@dataclass(frozen=True)\nclass {name}(Options):\n")
        parts.append(_doc(f"``{section}``: {about}.", "    "))
        parts.append(f'\n    SECTION: ClassVar[str] = "{section}"\n')
        for key, prop in schema["properties"].items():
            parts.append(f"\n    {key}: {_type(prop)} = {_literal(prop['default'])}\n")
            parts.append(_doc(prop["description"], "    "))
    return "".join(parts)


GENERATED = {"src/usae/options.py": options_source}


def stale():
    """The generated files whose text differs from what their source gives now."""
    return [path for path, make in GENERATED.items() if (ROOT / path).read_text() != make()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale file")
    args = parser.parse_args(argv)
    if args.check:
        for path in stale():
            print(f"{path}: stale; run 'make generate'", file=sys.stderr)
        return 1 if stale() else 0
    for path, make in GENERATED.items():
        (ROOT / path).write_text(make())
    return 0


if __name__ == "__main__":
    sys.exit(main())
