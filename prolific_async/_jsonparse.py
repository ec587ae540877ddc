"""The first try at reading a 2xx answer's JSON: orjson when the ``[fast]`` extra installed it
(``pip install 'prolific-async[fast]'``), else the standard library's json on UTF-8 text.

`loads` may fail on a body the standard library reads (orjson refuses ``NaN``, integers
beyond 64 bits, lone surrogates; neither reads UTF-16 here): the transport then reads the
body with ``json.loads`` of the bytes, which gives the same value, or says clearly what is
wrong with it (not JSON, nested too deeply). orjson's depth limit (1,024) keeps parsing
bounded.

``PARSERS`` names the parsers this install has, for `benchmarks/overhead.py` to compare.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any

__all__ = ["PARSERS", "loads"]

_decoder = json.JSONDecoder()
#: ``json.loads`` of a str without its per-call checks (json.loads(s) calls just this).
_decode = _decoder.decode
#: The scanner that ``decode`` calls through two Python frames and two whitespace matches.
_scan = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]


def _stdlib_loads(raw: bytes) -> Any:
    # JSON is UTF-8 (RFC 8259): decoded here, json skips guessing the encoding of bytes.
    text = raw.decode()
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # empty, leading whitespace, or not JSON: decode says which
        return _decode(text)
    # Anything after the value (whitespace, or what makes it not JSON): decode says which.
    return value if end == len(text) else _decode(text)


PARSERS: dict[str, Callable[[bytes], Any]] = {"json": _stdlib_loads}
try:
    from orjson import loads as _orjson_loads
except ImportError:  # the default install
    pass
else:
    PARSERS["orjson"] = _orjson_loads

#: The fastest parser this install has.
loads: Callable[[bytes], Any] = PARSERS.get("orjson", _stdlib_loads)
