"""Which addresses the SDK talks to: the API's origin, and storage URLs over https.

Plain http would carry the token (to the API) or a presigned credential and the data (to
storage) across the network in clear, so it is accepted only on this machine (the fake
server, a local proxy); Prolific's own CLI refuses plain-http downloads too.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import SplitResult, urlsplit

__all__ = ["api_origin_problem", "is_loopback", "storage_url_problem"]

_LOOPBACK_NAMES = frozenset({"localhost"})


@functools.lru_cache(maxsize=64)  # asked for each storage URL, of a few hosts
def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine: ``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _insecure(parts: SplitResult) -> bool:
    return parts.scheme == "http" and not is_loopback(parts.hostname)


def api_origin_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the API's base URL (an origin), or None.

    Only an origin is accepted: the SDK adds ``/api/v1/...`` itself, so a base URL with a path
    (a common slip: ``https://api.prolific.com/api/v1``) would call ``/api/v1/api/v1/...``.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if not parts.scheme and not parts.netloc:
        return f"it has no scheme: use 'https://{url.strip().split('/', 1)[0]}'"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "it must be an http(s) URL like 'https://api.prolific.com'"
    if parts.username is not None or parts.password is not None:
        return "it must not carry a user name or password"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        origin = f"{parts.scheme}://{parts.netloc}"
        return (f"it must be the API's address without a path: use {origin!r} (the SDK adds "
                "/api/v1/ itself)")
    if _insecure(parts):
        return ("plain http would send the token across the network in clear: use https "
                "(http is accepted only for localhost, 127.0.0.1 and ::1)")
    return None


def storage_url_problem(url: str) -> str | None:
    """What is wrong with a presigned upload or download URL, or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http(s) URL"
    if _insecure(parts):
        return ("it is plain http off this machine: storage URLs must be https (http is "
                "accepted only for localhost, 127.0.0.1 and ::1)")
    return None
