"""Request bodies checked against Prolific's published OpenAPI document.

The fake answers 400, with the API's error body, for a JSON request body that the spec's
schema for that operation refuses, so the SDK's requests cannot drift from the spec unnoticed.
The check is table-driven: every operation of the spec with a JSON body is one entry keyed
by (method, path template), and the fake looks each request up by the template of the route
that served it, so a route added to the fake later is checked as soon as the spec has it.

Validation needs ``jsonschema`` and ``pyyaml`` (the ``test`` extra). `FakeProlific` turns it
on when both are importable (``validate_spec=None``, the default), requires them with
``validate_spec=True`` and skips it with ``False``; without the extra the fake runs as before.

The spec (``spec/prolific-public-openapi-2025-01-15.yml``, a copy of the 2025-01 public
document) is stale in places that ``shared/api/REFERENCE.md`` documents; `STALE` corrects
exactly these, each with its reason, and nothing else:

- ``POST …/batches/{id}/instructions``: the spec gives the body as an array of objects; the
  API (REFERENCE §1a row 16, the CLI's payloads) takes ``{"instructions": [...]}``.
- instruction ``type``: the spec lists ``multiple_choice`` and ``free_text``; the API has five
  (REFERENCE row 16: also ``multiple_choice_with_free_text``, ``free_text_with_unit``,
  ``file_upload``), with their fields (``answer_limit``, ``unit_options``…).
- ``POST /studies/``: the spec requires ``external_study_url`` and ``completion_codes``; an AI
  Task Builder study has a ``data_collection_id`` instead of a URL, and the docs' AITB study
  bodies (``docs-examples/study_create_aitb_request_legacy_DC_TOOL.json``,
  ``cli-docs-examples/standard-sample-aitaskbuilder.json``) carry no ``completion_codes``.
- study ``study_labels``: the docs' AITB bodies use ``ai_annotation``, which the spec's enum
  lacks.
- ``POST /hooks/subscriptions/{id}/`` (confirming a subscription): the spec reuses the
  subscription's schema; the API takes ``{"secret": <X-Hook-Secret>}`` (REFERENCE §10, the
  CLI's ``cmd/hook``).

Example::

    validator = SpecValidator.load()
    validator.errors("POST", "/api/v1/studies/", {"name": "n"})
    # ["body: 'description' is a required property", ...]
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from ._server import Handler

__all__ = ["SPEC_FILE", "STALE", "SpecValidator", "available", "read_spec", "spec_middleware"]

SPEC_FILE = Path(__file__).parent / "spec" / "prolific-public-openapi-2025-01-15.yml"

_PARAM = re.compile(r"\{[^}]*\}")


def route_key(method: str, template: str) -> tuple[str, str]:
    """``("POST", "/api/v1/studies/{}/transition")`` for any spelling of the template: the
    parameter names and the trailing slash differ between the spec and the fake."""
    return method.upper(), _PARAM.sub("{}", template).rstrip("/")


def _instructions_body(spec: dict[str, Any]) -> None:
    path = spec["paths"]["/api/v1/data-collection/batches/{batch_id}/instructions"]
    item = path["put"]["requestBody"]["content"]["application/json"]["schema"]["items"]
    item["properties"]["type"]["enum"] = [
        "multiple_choice", "free_text", "multiple_choice_with_free_text",
        "free_text_with_unit", "file_upload"]
    path["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "object", "required": ["instructions"],
        "properties": {"instructions": {"type": "array", "minItems": 1,
                                        "items": copy.deepcopy(item)}}}


def _study_required(spec: dict[str, Any]) -> None:
    create = spec["components"]["schemas"]["CreateStudy"]["allOf"][1]
    create["required"] = [key for key in create["required"]
                          if key not in ("external_study_url", "completion_codes")]


def _study_labels(spec: dict[str, Any]) -> None:
    labels = spec["components"]["schemas"]["BaseStudy"]["properties"]["study_labels"]
    labels["items"]["enum"].append("ai_annotation")


def _confirm_subscription(spec: dict[str, Any]) -> None:
    confirm = spec["paths"]["/api/v1/hooks/subscriptions/{subscription_id}/"]["post"]
    confirm["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "object", "required": ["secret"],
        "properties": {"secret": {"type": "string"}}}


#: The corrections to the 2025 spec, by what they correct (the module docstring says why).
STALE: dict[str, Callable[[dict[str, Any]], None]] = {
    "ConfirmSubscription body is the subscription, not {secret}": _confirm_subscription,
    "instructions POST body and instruction types": _instructions_body,
    "CreateStudy requires external_study_url and completion_codes": _study_required,
    "study_labels lacks ai_annotation": _study_labels,
}


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable`` becomes a null type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items()
           if key not in ("nullable", "example", "discriminator")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


class SpecValidator:
    """The spec's request-body schemas, by (method, path template); see the module docstring.

    Example::

        SpecValidator.load().errors("POST", "/api/v1/studies/{id}/transition/", {})
        # ["body: 'action' is a required property"]
    """

    def __init__(self, spec: dict[str, Any],
                 corrections: Mapping[str, Callable[[dict[str, Any]], None]] = STALE) -> None:
        import jsonschema

        spec = copy.deepcopy(spec)
        for correct in corrections.values():
            correct(spec)
        components = _json_schema(spec.get("components", {}))
        self._validators: dict[tuple[str, str], Any] = {}
        for template, operations in spec["paths"].items():
            for method, operation in operations.items():
                body = (operation.get("requestBody") or {}).get("content", {}) \
                    if isinstance(operation, dict) else {}
                schema = body.get("application/json", {}).get("schema")
                if schema is not None:
                    root = {"allOf": [_json_schema(schema)], "components": components}
                    self._validators[route_key(method, template)] = \
                        jsonschema.Draft202012Validator(root)

    @classmethod
    def load(cls) -> SpecValidator:
        """The validator of the spec file, corrected by `STALE` (built once per process)."""
        return _loaded()

    def operations(self) -> list[tuple[str, str]]:
        """The (method, path template) of every operation with a JSON body to check."""
        return sorted(self._validators)

    def template(self, method: str, path: str) -> tuple[str, str] | None:
        """The operation a concrete ``path`` (ids filled in) belongs to, if the spec has it."""
        parts = path.split("?")[0].rstrip("/").split("/")
        for key in self._validators:
            wanted = key[1].split("/")
            if key[0] == method.upper() and len(wanted) == len(parts) and all(
                    w in ("{}", p) for w, p in zip(wanted, parts, strict=True)):
                return key
        return None

    def errors(self, method: str, template: str, body: Any) -> list[str]:
        """What the spec refuses in ``body`` (empty: accepted, or no schema for the route)."""
        validator = self._validators.get(route_key(method, template))
        if validator is None:
            return []
        return [f"{_where(error.absolute_path)}: {error.message}"
                for error in validator.iter_errors(body)]


def read_spec() -> dict[str, Any]:
    """The spec file as it is (330 kB of YAML: about a second with the C loader)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_FILE.open(encoding="utf-8") as stream:
        spec: dict[str, Any] = yaml.load(stream, Loader=loader)
    return spec


@functools.cache
def _loaded() -> SpecValidator:
    return SpecValidator(read_spec())


def _where(path: Any) -> str:
    """``instructions[1].type``, as the API's own field errors name a place."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "body"


def available() -> bool:
    """Whether the validator's libraries (the ``test`` extra) are importable."""
    try:
        import jsonschema  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def spec_middleware(validator: SpecValidator) -> Any:
    """An aiohttp middleware answering 400 (the API's error body) for a refused JSON body."""

    @web.middleware
    async def validate(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        if request.content_type == "application/json" and route is not None:
            raw = await request.read()  # aiohttp keeps it: the handler reads it again
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None  # the handler answers bad JSON itself
            problems = [] if body is None else validator.errors(
                request.method, route.canonical, body)
            if problems:
                return web.json_response(status=400, data={"error": {
                    "status": 400, "error_code": 140001, "title": "Bad Request",
                    "detail": {"spec": problems[:20]}}})
        return await handler(request)

    return validate
