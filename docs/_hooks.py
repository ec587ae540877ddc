"""MkDocs hooks: the pages made from the code, and a nav that tolerates missing guides.

- The Reference pages are generated (``docs/_generate.py``), so every public name is on the
  site without a hand-kept list, and ``mkdocs build --strict`` fails on a broken one.
- ``<!-- generated: NAME -->`` in a page is replaced by that generated Markdown (the plan-file
  fields, the command line's help, the module map).
- The nav in ``mkdocs.yml`` names every guide, including those written by other work in
  progress: an entry whose file does not exist yet is dropped (so no placeholder page is
  needed), and a Markdown file under ``guides/`` that the nav does not name is appended to
  Guides, so a new guide shows up by being written.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page


def _load_generate() -> ModuleType:
    # Hooks are loaded from a path, not a package: load the sibling module the same way.
    spec = importlib.util.spec_from_file_location("_docs_generate",
                                                  Path(__file__).with_name("_generate.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generate()

#: What ``<!-- generated: NAME -->`` becomes.
GENERATED = {
    "plan-fields": generate.plan_fields,
    "cli": generate.cli_reference,
    "module-map": generate.module_map,
}
_REFERENCE: dict[str, str] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _REFERENCE.clear()
    _REFERENCE.update(generate.reference_pages())
    docs_dir = Path(config.docs_dir)
    guides = [f"guides/{p.name}" for p in sorted((docs_dir / "guides").glob("*.md"))]
    config.nav = generate.tolerant_nav(
        config.nav or [], exists=lambda path: (docs_dir / path).is_file() or path in _REFERENCE,
        guides=guides)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path, content in _REFERENCE.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    for name, make in GENERATED.items():
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
