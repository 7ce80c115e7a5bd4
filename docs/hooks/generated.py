"""Reference pages generated from the code at build time, so they are never written twice.

A page holds a marker and the hook replaces it:

* ``<!-- generated:cli -->``: every ``legalrag`` command with its arguments and flags, from the typer app;
* ``<!-- generated:settings -->``: every setting and its environment variable, from ``Settings``;
* ``<!-- generated:options NAME -->``: the fields of ``IngestOptions``, ``EvalOptions`` or ``TrainOptions``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from pydantic import BaseModel

_OPTIONS = re.compile(r"<!-- generated:options (\w+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- generated:cli -->" in markdown:
        markdown = markdown.replace("<!-- generated:cli -->", cli_reference())
    if "<!-- generated:settings -->" in markdown:
        markdown = markdown.replace("<!-- generated:settings -->", settings_reference())
    return _OPTIONS.sub(lambda m: options_reference(m.group(1)), markdown)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _prose(text: Any) -> str:
    """A table cell of prose: ``<module>`` in a help text is not an HTML tag."""
    return _cell(text).replace("<", "&lt;")


def cli_reference() -> str:
    from legalrag.cli import app

    root = typer.main.get_command(app)
    out: list[str] = []
    _command(root, "legalrag", out, top=True)
    return "\n".join(out)


def _command(command: Any, path: str, out: list[str], *, top: bool = False) -> None:
    if not top:
        # the rows are the help records ``--help`` prints (typer vendors its own click: no isinstance checks)
        ctx = command.context_class(command, info_name=path)
        records = [r for p in command.params if p.name != "help" and (r := p.get_help_record(ctx))]
        out += [f"## `{path}`", "", _prose(command.help or ""), ""]
        if records:
            out += ["| argument or flag | what it does |", "|---|---|"]
            out += [f"| `{_cell(flag)}` | {_prose(text)} |" for flag, text in records]
            out.append("")
    for name in sorted(getattr(command, "commands", None) or {}):
        _command(command.commands[name], f"{path} {name}", out)


def _field_notes(cls: type[BaseModel]) -> dict[str, str]:
    """Each field's ``#:`` comment, or its entry in the class docstring's ``Attributes:`` section."""
    notes: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" in doc:
        section = doc.split("Attributes:", 1)[1].split("\n\n", 1)[0]
        for match in re.finditer(r"^\s{4}(\w+): (.+?)(?=^\s{4}\w+: |\Z)", section, re.M | re.S):
            notes[match.group(1)] = " ".join(match.group(2).split())
    comment: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        target = re.match(r"(\w+)\s*:", stripped)
        if target and comment:
            notes.setdefault(target.group(1), " ".join(comment))
        comment = []
    return notes


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is None or value == ():
        return ""
    return f"`{value}`"


def _type(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")
    return re.sub(r"<class '(\w+)'>", r"\1", text)


def settings_reference() -> str:
    from legalrag.plugin import settings as module

    out = [
        "| setting | environment variable | type | default | what it does |",
        "|---|---|---|---|---|",
    ]
    root = module.Settings
    flat_qdrant = set(module.QdrantSettings.model_fields)
    for name, field in root.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            notes = _field_notes(annotation)
            for sub, subfield in annotation.model_fields.items():
                env = (
                    f"LEGALRAG_QDRANT_{sub.upper()}"
                    if name == "qdrant" and sub in flat_qdrant
                    else f"LEGALRAG_{name.upper()}__{sub.upper()}"
                )
                row = (f"`{name}.{sub}`", f"`{env}`", _type(subfield.annotation), _default(subfield))
                out.append("| " + " | ".join(_prose(c) for c in row) + f" | {_prose(notes.get(sub, ''))} |")
            continue
        notes = _field_notes(root)
        row = (f"`{name}`", f"`LEGALRAG_{name.upper()}`", _type(annotation), _default(field))
        out.append("| " + " | ".join(_prose(c) for c in row) + f" | {_prose(notes.get(name, ''))} |")
    return "\n".join(out)


def options_reference(name: str) -> str:
    import legalrag

    cls = getattr(legalrag, name)
    out = ["| field | type | default | what it does |", "|---|---|---|---|"]
    for field_name, field in cls.model_fields.items():
        row = (f"`{field_name}`", _type(field.annotation), _default(field), field.description or "")
        out.append("| " + " | ".join(_prose(c) for c in row) + " |")
    return "\n".join(out)


__all__ = ["cli_reference", "on_page_markdown", "options_reference", "settings_reference"]
