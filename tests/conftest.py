from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parent / "examples"


@pytest.fixture
def anyio_backend() -> str:
    # aiohttp runs on asyncio only.
    return "asyncio"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())
