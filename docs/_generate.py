"""The documentation pages made from the code, so they cannot drift from it.

The site's hook (``docs/_hooks.py``) and ``tests/test_docs.py`` both use this module; it needs
the package, ``griffe`` (with ``griffe_sphinx``, which reads the ``#:`` comments this project
writes above constants and enum members) and, for the command line, ``click``.

- `reference_pages`: one Reference page per topic, every name of ``prolific_async.__all__``
  (and of ``prolific_async.testing``) rendered by mkdocstrings, grouped by the module that
  defines it, plus the resource namespaces (``client.batches`` ...) found on a client.
- `plan_fields`: the fields of the plan classes, their types, defaults and meanings.
- `cli_reference`: the help of every ``prolific-async`` command.
- `module_map`: every module of the package with the first paragraph of its docstring.
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import attrs
import griffe

import prolific_async as pa
import prolific_async.testing

__all__ = ["Topic", "cli_reference", "describe_fields", "docstring_of", "error_tree",
           "field_meanings",
           "module_map", "namespaces", "plan_fields", "public_names", "reference_pages",
           "tolerant_nav", "topic_of"]


@attrs.frozen
class Topic:
    """One Reference page: the names whose defining module starts with one of ``prefixes``."""

    slug: str
    title: str
    intro: str
    prefixes: tuple[str, ...] = ()


#: The Reference's pages, in nav order. A name goes to the first topic whose prefix its
#: defining module starts with; exceptions all go to "errors"; a name matching none goes to
#: "other", so a new module's names are on the site even before it gets a topic here.
TOPICS = (
    Topic("client", "The client", "The client, its settings, and JSON helpers.",
          ("prolific_async._client", "prolific_async._config", "prolific_async._stats",
           "prolific_async._secret", "prolific_async._observe",
           "prolific_async._types", "prolific_async._json", "prolific_async._version")),
    Topic("resources", "Resources", "What a client's namespaces do: one coroutine, watch or "
          "async iterator per API call or job. Reach them as attributes of an open client: "
          "`client.datasets`, `client.batches` ..."),
    Topic("watching", "Watching jobs", "Watches, transitions and fan-in of many watches.",
          ("prolific_async._watch", "prolific_async._fanin", "prolific_async._jobs")),
    Topic("datasets", "Datasets", "The data tasks are made from.",
          ("prolific_async._models.datasets",)),
    Topic("batches", "Batches and layouts", "Batches, their pages of questions, and the "
          "items a page holds.",
          ("prolific_async._models.batches", "prolific_async._models.instructions")),
    Topic("studies", "Studies", "How a batch reaches participants, and is paid for.",
          ("prolific_async._models.studies",)),
    Topic("collections", "Collections", "Static pages of questions, without a dataset.",
          ("prolific_async._models.collections",)),
    Topic("data", "Responses and exports", "Answers from the API and from export archives, "
          "export jobs, and downloads.",
          ("prolific_async._models.responses", "prolific_async._models.exports",
           "prolific_async._models.common", "prolific_async.archive", "prolific_async._download",
           "prolific_async._records")),
    # Pages for areas being added: a topic without names makes no page.
    Topic("money", "Submissions and bonuses", "Reviewing, approving and paying.",
          ("prolific_async._models.submissions", "prolific_async._models.bonuses")),
    Topic("feed", "Feeds and appends", "Records appended to V4 datasets and fed to live "
          "batches.", ("prolific_async._feed", "prolific_async._models.appends")),
    Topic("webhooks", "Webhooks", "Prolific's events pushed to your server, verified.",
          ("prolific_async._hooks", "prolific_async._models.hooks")),
    Topic("orchestration", "Orchestration", "Many batches end to end: plans, runs, events.",
          ("prolific_async.orchestration",)),
    Topic("errors", "Errors", "Every exception the SDK raises, one tree rooted at "
          "`ProlificError`, and what the exceptions carry.", ("prolific_async._errors",)),
    Topic("testing", "Testing", "The fake Prolific server and the pytest fixtures "
          "(`prolific_async.testing`).", ("prolific_async.testing",)),
    Topic("other", "Other names", "Public names not yet given a topic."),
)


@cache
def _package() -> griffe.Module:
    loaded = griffe.load("prolific_async", extensions=griffe.load_extensions("griffe_sphinx"),
                         docstring_parser="google", resolve_aliases=True,
                         resolve_external=False)
    assert isinstance(loaded, griffe.Module)
    return loaded


def public_names() -> list[str]:
    """Every documented name, as ``prolific_async.X`` or ``prolific_async.testing.X``."""
    names = [f"prolific_async.{n}" for n in pa.__all__]
    names += [f"prolific_async.testing.{n}" for n in prolific_async.testing.__all__]
    return names


def _object(path: str) -> griffe.Object | griffe.Alias:
    found: griffe.Object | griffe.Alias = _package()[path.removeprefix("prolific_async.")]
    return found


def docstring_of(path: str) -> str:
    """The docstring the site shows for ``path`` (``#:`` comments count), or ``""``."""
    docstring = _object(path).docstring
    return docstring.value.strip() if docstring else ""


def _target(path: str) -> str:
    found = _object(path)
    return found.final_target.path if isinstance(found, griffe.Alias) else found.path


def _runtime(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def topic_of(path: str) -> Topic:
    """The Reference page ``path`` is on."""
    value = _runtime(path)
    by_slug = {t.slug: t for t in TOPICS}
    if isinstance(value, type) and issubclass(value, BaseException):
        return by_slug["errors"]
    target = _target(path)
    for topic in TOPICS:
        if any(target == p or target.startswith(p + ".") for p in topic.prefixes):
            return topic
    return by_slug["other"]


def namespaces() -> dict[str, str]:
    """The resource namespaces of a client (``{"datasets": "prolific_async._resources..."}``),
    found on a client built offline, so a new namespace is documented when it is added."""
    client = pa.Prolific("docs-token")
    found = {}
    for name, value in vars(client).items():
        kind = type(value)
        if not name.startswith("_") and kind.__module__.startswith("prolific_async._resources"):
            found[name] = f"{kind.__module__}.{kind.__qualname__}"
    return found


def _first_line(text: str) -> str:
    return text.split("\n\n", 1)[0].replace("\n", " ").strip()


def reference_pages() -> dict[str, str]:
    """``{"reference/<slug>.md": markdown}`` for every topic that has names, and the index."""
    pages: dict[str, list[str]] = {}
    index = ["# Reference", "",
             "Every public name, from its docstring. `import prolific_async as pa` gives all "
             "of them but the testing ones (`from prolific_async.testing import ...`).", "",
             "| name | page | what |", "|---|---|---|"]
    for path in public_names():
        topic = topic_of(path)
        short = path.rsplit(".", 1)[1]
        pages.setdefault(topic.slug, []).append(
            f"::: {path}\n    options:\n      heading_level: 2\n")
        summary = _first_line(docstring_of(path)).replace("|", "\\|")
        index.append(f"| [`{short}`]({topic.slug}.md#{path}) | {topic.title} | {summary} |")
    for attribute, path in namespaces().items():
        pages.setdefault("resources", []).append(
            f"## `client.{attribute}`\n\n::: {path}\n    options:\n      heading_level: 3\n"
            "      show_root_heading: false\n      inherited_members: true\n")
    pages.setdefault("testing", []).append(
        "## The pytest fixtures\n\n::: prolific_async.testing.pytest_plugin\n    options:\n"
        "      heading_level: 3\n      show_root_heading: false\n")
    pages.setdefault("errors", []).insert(0, f"```text\n{error_tree()}\n```\n")
    out = {"reference/index.md": "\n".join(index) + "\n"}
    for topic in TOPICS:
        if topic.slug in pages:
            body = "\n".join(pages[topic.slug])
            out[f"reference/{topic.slug}.md"] = f"# {topic.title}\n\n{topic.intro}\n\n{body}"
    return out


def error_tree() -> str:
    """The public exceptions as a tree from `ProlificError`, each with its docstring's first
    line, walked from the classes themselves (and a note of the builtins each also is)."""
    public: set[object] = {getattr(pa, name) for name in pa.__all__}
    rows: list[tuple[str, str]] = [("ProlificError", "")]

    def walk(cls: type, prefix: str) -> None:
        subclasses: list[type] = type.__subclasses__(cls)
        children = sorted((sub for sub in subclasses if sub in public),
                          key=lambda sub: pa.__all__.index(sub.__name__))
        for number, child in enumerate(children):
            last = number == len(children) - 1
            also = [b.__name__ for b in child.__bases__
                    if b.__module__ == "builtins" and b is not Exception]
            label = child.__name__ + (f" ({', '.join(also)})" if also else "")
            # The first sentence: a full stop followed by a capital starts the next one.
            summary = re.split(r"\.\s+(?=[A-Z`])", _first_line(child.__doc__ or ""))[0]
            rows.append((f"{prefix}{'└── ' if last else '├── '}{label}", summary.rstrip(".")))
            walk(child, prefix + ("    " if last else "│   "))

    walk(pa.ProlificError, "")
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(f"{label:<{width}}{summary}".rstrip() for label, summary in rows)


def _attributes_section(cls: type) -> dict[str, str]:
    docstring = _package()[_target(f"prolific_async.{cls.__name__}").removeprefix(
        "prolific_async.")].docstring
    if docstring is None:
        return {}
    meanings = {}
    for section in docstring.parse(griffe.Parser.google):
        if section.kind is griffe.DocstringSectionKind.attributes:
            for attribute in section.value:
                meanings[attribute.name] = " ".join(attribute.description.split())
    return meanings


def field_meanings(cls: type) -> dict[str, str]:
    """What each attrs field of ``cls`` means, from its docstring's ``Attributes:`` section
    (or a ``#:`` comment above the field)."""
    meanings = _attributes_section(cls)
    members = _package()[_target(f"prolific_async.{cls.__name__}").removeprefix(
        "prolific_async.")].members
    for field in attrs.fields(cls):
        member = members.get(field.name)
        if field.name not in meanings and member is not None and member.docstring:
            meanings[field.name] = " ".join(member.docstring.value.split())
    return meanings


def _default(field: attrs.Attribute[Any]) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "**required**"
    factory = getattr(default, "factory", None)  # attrs.Factory(...)
    if factory is not None:
        default = factory()
    if default is None:
        return "not set"
    return f"`{default!r}`"


def describe_fields(cls: type, *, key_prefix: str = "") -> str:
    """A Markdown table of ``cls``'s attrs fields: key, type, default, meaning."""
    meanings = field_meanings(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in attrs.fields(cls):
        kind = field.type if isinstance(field.type, str) else getattr(
            field.type, "__name__", str(field.type))
        # A pipe would end the table cell, even inside backticks: an HTML code element with
        # the pipe as an entity keeps it in the cell.
        kind = html.escape(kind).replace("|", "&#124;")
        rows.append(f"| `{key_prefix}{field.name}` | <code>{kind}</code> | {_default(field)} | "
                    f"{meanings.get(field.name, '')} |")
    return "\n".join(rows)


def _item_classes() -> Iterator[type]:
    for name in pa.__all__:
        value = getattr(pa, name)
        if isinstance(value, type) and isinstance(getattr(value, "TYPE", None), str):
            yield value


def plan_fields() -> str:
    """The plan-file page's generated part: every field of `BatchPlan`, `StudyPlan`, the task
    details and each item type a plan's ``instructions`` may hold."""
    parts = [
        "### A plan (`[[plan]]` and `[defaults]`): `pa.BatchPlan`", "",
        describe_fields(pa.BatchPlan), "",
        "### Its study (`study = {...}` or `[defaults.study]`): `pa.StudyPlan`", "",
        describe_fields(pa.StudyPlan, key_prefix="study."), "",
        "### Its task details (`[defaults.task_details]`): `pa.TaskDetails`", "",
        describe_fields(pa.TaskDetails, key_prefix="task_details."), "",
        "### Items (`[[defaults.instructions]]`, or a layout's `items`)", "",
        "Each item is a table whose `type` says which of these it is; the other keys are the "
        "item's fields.", "",
    ]
    for cls in _item_classes():
        parts += [f"#### `type = \"{cls.TYPE}\"`: [`pa.{cls.__name__}`]"  # type: ignore[attr-defined]
                  f"[prolific_async.{cls.__name__}]", "",
                  describe_fields(cls), ""]
    return "\n".join(parts)


def cli_reference() -> str:
    """Every ``prolific-async`` command's ``--help``, walked from the click app itself."""
    import click

    from prolific_async.cli._app import cli

    parts: list[str] = []

    def walk(command: click.Command, name: str, parent: click.Context | None) -> None:
        settings = {**command.context_settings, "terminal_width": 80,
                    "max_content_width": 80}
        context = click.Context(command, info_name=name, parent=parent, **settings)
        parts.extend([f"### `{context.command_path}`", "", "```text",
                      command.get_help(context), "```", ""])
        if isinstance(command, click.Group):
            for sub in command.list_commands(context):
                child = command.get_command(context, sub)
                if child is not None and not child.hidden:
                    walk(child, sub, context)

    walk(cli, "prolific-async", None)
    return "\n".join(parts)


def module_map() -> str:
    """A table of every module of the package and what it owns (its docstring's first
    paragraph), in import-path order. Read statically: nothing is imported (the pytest
    plugin needs pytest, which the docs do not install)."""
    modules: list[griffe.Module] = []

    def walk(module: griffe.Module) -> None:
        modules.append(module)
        for member in module.modules.values():
            if not member.is_alias:
                walk(member)

    walk(_package())
    rows = ["| module | what it owns |", "|---|---|"]
    for module in sorted(modules[1:], key=lambda m: m.path):
        if module.name == "__main__":  # the command's entry point, nothing of its own
            continue
        summary = _first_line(module.docstring.value if module.docstring else "")
        rows.append(f"| `{module.path.removeprefix('prolific_async.')}` | "
                    f"{summary.replace('|', '&#124;')} |")
    return "\n".join(rows)


def _prune(entries: list[Any], exists: Callable[[str], bool]) -> list[Any]:
    kept: list[Any] = []
    for entry in entries:
        if isinstance(entry, str):
            if exists(entry):
                kept.append(entry)
            continue
        [(title, value)] = entry.items()
        if isinstance(value, list):
            value = _prune(value, exists)
            if value:
                kept.append({title: value})
        elif value.startswith(("http://", "https://")) or exists(value):
            kept.append({title: value})
    return kept


def _named(entries: list[Any]) -> set[str]:
    named: set[str] = set()
    for entry in entries:
        value = entry if isinstance(entry, str) else next(iter(entry.values()))
        named |= _named(value) if isinstance(value, list) else {value}
    return named


def tolerant_nav(nav: list[Any], *, exists: Callable[[str], bool],
                 guides: list[str]) -> list[Any]:
    """The site's nav from ``mkdocs.yml``'s: the Reference expanded to its generated pages,
    every file of ``guides`` the nav does not name appended to Guides, and every entry whose
    file does not exist dropped (a guide still being written has its slot without a
    placeholder page)."""
    nav = [dict(entry) if isinstance(entry, dict) else entry for entry in nav]
    for entry in nav:
        if not isinstance(entry, dict):
            continue
        if "Reference" in entry:
            entry["Reference"] = [{"Index": "reference/index.md"}] + [
                {t.title: f"reference/{t.slug}.md"} for t in TOPICS]
        if "Guides" in entry:
            named = _named(entry["Guides"])
            entry["Guides"] = entry["Guides"] + [g for g in guides if g not in named]
    return _prune(nav, exists)
