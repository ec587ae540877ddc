"""A griffe extension: the docstrings' ``Example::`` blocks shown as highlighted examples.

The package's docstrings follow the reStructuredText habit ``Example::`` followed by an
indented block, which reads well in ``help()``. On the site that block becomes a Google-style
``Example:`` section holding a fenced block, so mkdocstrings renders it as an example
admonition with syntax highlighting (``console`` for shell lines, else ``python``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADER = re.compile(r"^(?P<indent> *)(?P<word>Examples?)::\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rewrite(text: str) -> str:
    """``text`` with every ``Example::`` block turned into an ``Example:`` section."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        found = _HEADER.match(lines[index])
        if not found:
            out.append(lines[index])
            index += 1
            continue
        header = lines[index]
        base = len(found["indent"])
        block: list[str] = []
        index += 1
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > base):
            block.append(lines[index])
            index += 1
        while block and not block[0].strip():
            block.pop(0)
        while block and not block[-1].strip():
            block.pop()
        if not block:
            out.append(header)
            continue
        cut = min(_indent(line) for line in block if line.strip())
        language = "console" if block[0].lstrip().startswith("$ ") else "python"
        pad = " " * (base + 4)
        out += [f"{found['indent']}{found['word']}:", f"{pad}```{language}"]
        out += [f"{pad}{line[cut:]}" if line.strip() else "" for line in block]
        out.append(f"{pad}```")
        if index < len(lines):
            out.append("")
    return "\n".join(out)


class ExamplesAsSections(griffe.Extension):
    """Rewrites ``Example::`` blocks in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and "::" in obj.docstring.value:
            obj.docstring.value = rewrite(obj.docstring.value)
