"""The README's webhook examples run: the aiohttp.web one end to end against the fake, the
Starlette one as an ASGI application taking a signed delivery."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .test_hook_receiver import STATUS, call_asgi, delivery

# The programs moved from the README to the webhooks guide, markers and all.
README = (Path(__file__).parent.parent / "docs" / "guides" / "webhooks.md").read_text()


def block(name: str) -> str:
    [code] = re.findall(rf"<!-- readme-test: {name} -->\n```python\n(.*?)```", README,
                        re.DOTALL)
    return code


def test_the_aiohttp_example_watches_a_study_to_its_end_through_webhooks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(block("webhooks"), "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == [
        "study None -> ACTIVE", "study ACTIVE -> AWAITING REVIEW"]


@pytest.mark.anyio
async def test_the_starlette_example_takes_a_signed_delivery(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_hook_receiver import SECRET

    monkeypatch.setenv("PROLIFIC_HOOK_SECRET", SECRET)
    scope: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block("starlette"), "README.md", "exec"), scope)
    assert await call_asgi(scope["app"], "POST", *delivery(STATUS)) == (200, b"ok")
    assert scope["receiver"].accepted == 1
