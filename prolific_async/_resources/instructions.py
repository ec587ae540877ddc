"""``client.instructions``: the (deprecated, still documented) per-batch instructions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, get_args

from .._converter import converter
from .._models.instructions import Instruction, Item, UnknownItem
from .._transport import Response
from ._base import DC, Resource, models, segment

__all__ = ["Instructions"]

#: The author named on instructions that do not name one (the spec requires the field).
DEFAULT_CREATED_BY = "prolific_async"

logger = logging.getLogger("prolific_async")


class Instructions(Resource):
    """Deprecated by Prolific: per-batch instructions. Prefer ``batch_items``.

    Prolific deprecated these endpoints in favour of the ``batch_items`` layout given to
    ``client.batches.create`` (see `prolific_async.one_page`); they still work, the SDK logs
    the server's ``Sunset`` date once, and they are refused once a batch is set up.

    Example::

        await client.instructions.create(batch.id, [
            pa.MultipleChoice(description="Which is better?", answer_limit=1,
                              options=[pa.Option(label="A", value="a"),
                                       pa.Option(label="B", value="b")]),
            pa.FreeText(description="Why?"),
        ])
    """

    _warned = False

    def _path(self, batch_id: str) -> str:
        return f"{DC}/batches/{segment('batch_id', batch_id)}/instructions"

    async def get(self, batch_id: str) -> list[Item]:
        """The batch's instructions."""
        return self._items(await self._request("GET", self._path(batch_id)))

    async def create(self, batch_id: str, instructions: Sequence[Instruction], *,
                     created_by: str = DEFAULT_CREATED_BY) -> list[Item]:
        """Add instructions to a batch that is not set up yet.

        The API requires ``created_by`` on every instruction (free text naming its author);
        an item that leaves it None gets ``created_by``.
        """
        body = {"instructions": _unstructure(instructions, created_by)}
        return self._items(await self._request("POST", self._path(batch_id), json_body=body,
                                               idempotent=False))

    async def replace(self, batch_id: str, instructions: Sequence[Instruction], *,
                      created_by: str = DEFAULT_CREATED_BY) -> list[Item]:
        """Replace every instruction of a batch (PUT); ``created_by`` as in `create`."""
        return self._items(await self._request(
            "PUT", self._path(batch_id), json_body=_unstructure(instructions, created_by)))

    def _items(self, response: Response) -> list[Item]:
        if response.headers.get("Deprecation") and not Instructions._warned:
            Instructions._warned = True
            logger.warning(
                "the instructions endpoints are deprecated (sunset %s): prefer batch_items",
                response.headers.get("Sunset", "unannounced"),
            )
        items: list[Item] = self._parse(response, Item, rows=True)
        return items


def _unstructure(instructions: Sequence[Instruction], created_by: str) -> list[Any]:
    if isinstance(instructions, (str, bytes)) or not instructions:
        raise ValueError("instructions must be a non-empty sequence of instruction models")
    checked = models("instructions", instructions, (*get_args(Instruction), UnknownItem),
                     "an instruction model (pa.MultipleChoice, pa.FreeText, ... or "
                     "pa.UnknownItem)")
    if not isinstance(created_by, str) or not created_by.strip():
        raise ValueError(f"created_by must be a non-empty string, got {created_by!r}")
    bodies = [converter.unstructure(item, Item) for item in checked]
    return [body if body.get("created_by") else {**body, "created_by": created_by}
            for body in bodies]
