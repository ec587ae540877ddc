"""The documentation site's promises, checked without building it (CI builds it too, with
``mkdocs build --strict``): every public name has a docstring and a place in the Reference,
every plan field a meaning, every command its help, and the nav survives missing guides."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import attrs
import click

import prolific_async as pa
from prolific_async.cli._app import cli

DOCS = Path(__file__).parent.parent / "docs"


def _load(name: str) -> ModuleType:
    # The docs' helpers are not a package (they live beside the pages); load them by path.
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load("_generate")
examples = _load("_griffe_examples")


def test_every_public_name_has_a_docstring() -> None:
    missing = [path for path in generate.public_names() if not generate.docstring_of(path)]
    assert not missing, ("public names without a docstring (a class or function docstring, "
                         f"or a `#:` comment above a constant): {missing}")


def test_every_public_name_is_rendered_on_one_reference_page() -> None:
    pages = generate.reference_pages()
    for path in generate.public_names():
        rendered = [page for page, text in pages.items() if f"::: {path}\n" in text]
        assert len(rendered) == 1, (path, rendered)
        assert f"#{path})" in pages["reference/index.md"], path


def test_every_client_namespace_is_on_the_resources_page() -> None:
    namespaces = generate.namespaces()
    assert {"datasets", "batches", "instructions", "collections", "studies"} <= set(namespaces)
    resources = generate.reference_pages()["reference/resources.md"]
    for attribute, path in namespaces.items():
        assert f"## `client.{attribute}`" in resources
        assert f"::: {path}\n" in resources


def test_every_plan_field_has_a_meaning_and_no_meaning_is_stale() -> None:
    for cls in (pa.BatchPlan, pa.StudyPlan):
        fields = {field.name for field in attrs.fields(cls)}
        meanings = generate.field_meanings(cls)
        assert fields - set(meanings) == set(), (
            f"{cls.__name__} fields without a line in its docstring's Attributes section")
        assert set(meanings) - fields == set(), f"{cls.__name__} documents fields it lacks"
        assert all(meanings.values())


def test_plan_field_tables_show_type_default_and_meaning() -> None:
    tables = generate.plan_fields()
    assert ("| `tasks_per_group` | <code>int</code> | `1` | How many tasks one participant "
            "does in one submission. |") in tables
    assert "| `study.reward` | <code>int</code> | **required** | What each participant" in tables
    assert "<code>Sequence[pa.Item] &#124; None</code>" in tables  # the pipe kept in its cell
    assert '#### `type = "free_text"`' in tables


def test_the_command_line_page_has_every_commands_help() -> None:
    text = generate.cli_reference()

    def paths(command: click.Command, prefix: str) -> list[str]:
        found = [prefix]
        if isinstance(command, click.Group):
            for name, child in command.commands.items():
                if not child.hidden:
                    found += paths(child, f"{prefix} {name}")
        return found

    every = paths(cli, "prolific-async")
    assert len(every) > 20
    for path in every:
        assert f"### `{path}`\n" in text, path
    assert "Usage: prolific-async batch export [OPTIONS]" in text


def test_the_module_map_lists_every_module_with_its_docstring() -> None:
    text = generate.module_map()
    assert "| `_transport` | The one request path every API call takes" in text
    assert "| `orchestration._plan` |" in text
    assert "__main__" not in text


def test_the_readmes_short_module_map_names_only_modules_of_the_full_one() -> None:
    # The README lists the main modules and links to the full map: a renamed or removed module
    # must not linger there.
    full = set(re.findall(r"^\| `([\w.]+)` \|", generate.module_map(), re.MULTILINE))
    readme = (DOCS.parent / "README.md").read_text()
    assert "(docs/how-it-works.md#the-layers)" in readme
    rows = [line.split(" | ")[0] for line in readme.splitlines() if line.startswith("| `")]
    named = []
    for row in rows:
        first, *rest = re.findall(r"`([\w.*/]+)`", row)
        package = first.rsplit(".", 1)[0] if "." in first else ""
        named += [first, *(package + name if name.startswith(".") else name for name in rest)]
    assert len(named) > 25
    for name in named:
        stem = name.rstrip("/*")
        assert any(m == stem or (m.startswith(stem) and name.endswith("*")) for m in full), name
    assert "orchestration._stage_hook" in named and "otel" in named


def test_the_nav_drops_guides_not_written_yet_and_adds_unnamed_ones() -> None:
    nav = [{"Home": "index.md"},
           {"Guides": ["guides/orchestrating.md", "guides/webhooks.md"]},
           {"Reference": "reference/index.md"}]
    written = {"index.md", "guides/orchestrating.md", "guides/new.md", "reference/index.md",
               "reference/client.md"}
    built = generate.tolerant_nav(nav, exists=written.__contains__,
                                  guides=["guides/new.md", "guides/orchestrating.md"])
    assert built == [{"Home": "index.md"},
                     {"Guides": ["guides/orchestrating.md", "guides/new.md"]},
                     {"Reference": [{"Index": "reference/index.md"},
                                    {"The client": "reference/client.md"}]}]


def test_example_blocks_become_highlighted_example_sections() -> None:
    text = "Does a thing.\n\nExample::\n\n    x = 1\n\n    y = 2\n\nMore."
    assert examples.rewrite(text) == (
        "Does a thing.\n\nExample:\n    ```python\n    x = 1\n\n    y = 2\n    ```\n\nMore.")
    assert "```console" in examples.rewrite("Example::\n\n    $ prolific-async demo\n")


def test_the_version_is_written_once() -> None:
    assert importlib.metadata.version("prolific-async") == pa.__version__


def test_the_error_tree_shows_every_public_exception_under_its_parent() -> None:
    tree = generate.error_tree()
    errors = [n for n in pa.__all__
              if isinstance(getattr(pa, n), type) and issubclass(getattr(pa, n), BaseException)]
    for name in errors:
        assert f"── {name}" in tree or name == "ProlificError", name
    # Nested under their parents, with the builtin exceptions they also are.
    assert re.search(r"^├── APIConnectionError .*\n│   [├└]── APITimeoutError ", tree, re.M)
    assert re.search(r"^│   [├└]── PollTimeout \(TimeoutError\) ", tree, re.M)
    assert generate.reference_pages()["reference/errors.md"].count("```text\nProlificError") == 1
