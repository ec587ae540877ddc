"""Every complete program in the documentation runs, against the fake server.

A program is a ```python block right after a marker saying what it prints (one or more
texts, each in double quotes)::

    <!-- run: prints "3 of 3 batches READY" "resumed: PROCESSING -> READY" -->

in any Markdown file under docs/ or in README.md. Each runs in a fresh folder of its own, as
a user would run it pasted into a file, and must print that text. A marker that is not
followed by a Python block is an error, so a marker cannot silently test nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).parent.parent
MARKER = re.compile(r'^<!-- run: prints (?P<expected>(?:"[^"]+" ?)+) ?-->\n', re.MULTILINE)
FENCE = re.compile(r"```python\n(?P<code>.*?)^```", re.DOTALL | re.MULTILINE)


@attrs.frozen
class Program:
    source: Path
    line: int
    expected: tuple[str, ...]
    code: str

    @property
    def id(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"


def programs_in(path: Path) -> list[Program]:
    """The marked programs of one Markdown file."""
    text = path.read_text(encoding="utf-8")
    found = []
    for marker in MARKER.finditer(text):
        fence = FENCE.match(text, marker.end())
        line = text.count("\n", 0, marker.start()) + 1
        if fence is None:
            raise AssertionError(f"{path}:{line}: a run marker must be followed by a "
                                 "```python block")
        expected = tuple(re.findall(r'"([^"]+)"', marker["expected"]))
        found.append(Program(path, line, expected, fence["code"]))
    return found


def all_programs() -> list[Program]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [program for path in files for program in programs_in(path)]


PROGRAMS = all_programs()


def test_the_docs_have_runnable_programs() -> None:
    # Guards the extraction itself: a broken pattern must not turn this file into no tests.
    assert len(PROGRAMS) >= 5, [p.id for p in PROGRAMS]


def test_a_marker_may_name_several_texts(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('<!-- run: prints "a b" "c" -->\n```python\nprint("a b c")\n```\n')
    [program] = programs_in(page)
    assert program.expected == ("a b", "c")
    assert program.code == 'print("a b c")\n'


def test_a_marker_without_a_program_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('<!-- run: prints "x" -->\nSome prose, no code.\n')
    with pytest.raises(AssertionError, match="must be followed by a ```python block"):
        programs_in(page)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.id)
def test_program_runs_and_prints_what_the_docs_say(
        program: Program, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PROLIFIC_TOKEN", "PROLIFIC_URL", "PROLIFIC_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    exec(compile(program.code, program.id, "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    for text in program.expected:
        assert text in out
