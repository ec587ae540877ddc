"""`Survey`: what the server already holds, read once per run and shared by all its plans.

A plan's name is its key in its workspace, so before creating anything a plan looks for its
batch there. One ``batches.list`` per workspace (and, only when some plan found its batch,
one ``studies.list``) serves every plan of the run: looking costs a fresh run next to
nothing, and a rerun without its journal finds everything an earlier run made. The first
plan to ask reads the list; plans asking meanwhile wait for that one answer. A look after an
unsure create (``fresh=True``) reads the server again and refreshes the shared answer.
"""

from __future__ import annotations

import anyio

from . import _sdk as pa

__all__ = ["DuplicateBatchesError", "Survey"]


class DuplicateBatchesError(pa.ProlificError, ValueError):
    """Two or more batches in the workspace bear the plan's name: which one is the plan's
    cannot be known, so the plan stops before creating anything. ``batch_ids`` lists them,
    oldest first.

    Example::

        if isinstance(result.error, pa.DuplicateBatchesError):
            print("delete all but one of", result.error.batch_ids)
    """

    def __init__(self, plan: str, workspace_id: str, batch_ids: list[str]) -> None:
        super().__init__(
            f"plan {plan!r}: workspace {workspace_id} has {len(batch_ids)} batches of that "
            f"name ({', '.join(batch_ids)}); nothing was created. The plan's name must name "
            "one batch: rename the plan (a new batch), or delete the extra batches")
        self.plan = plan
        self.batch_ids = batch_ids


class Survey:
    """The shared lists of one run: batches per workspace, and the account's studies.

    Example::

        survey = Survey(client)
        batch = await survey.batch("reviews-1", workspace_id=WS)   # None if not there
    """

    def __init__(self, client: pa.Prolific) -> None:
        self._client = client
        self._batches: dict[str, list[pa.Batch]] = {}
        self._studies: list[pa.Study] | None = None
        self._locks: dict[str, anyio.Lock] = {}

    def _lock(self, key: str) -> anyio.Lock:
        return self._locks.setdefault(key, anyio.Lock())

    async def batch(self, name: str, *, workspace_id: str, fresh: bool = False
                    ) -> pa.Batch | None:
        """The batch named ``name`` in the workspace, or None; `DuplicateBatchesError` when
        several bear the name."""
        async with self._lock(f"batches:{workspace_id}"):
            if fresh or workspace_id not in self._batches:
                self._batches[workspace_id] = await self._client.batches.list(
                    workspace_id=workspace_id)
            listed = self._batches[workspace_id]
        found = sorted((b for b in listed if b.name == name),
                       key=lambda b: b.created_at.isoformat() if b.created_at else "")
        if len(found) > 1:
            raise DuplicateBatchesError(name, workspace_id, [b.id for b in found])
        return found[0] if found else None

    async def studies_of(self, batch_id: str, *, fresh: bool = False) -> list[pa.Study]:
        """The studies of a batch (the API cannot filter on it: one list serves all)."""
        async with self._lock("studies"):
            if fresh or self._studies is None:
                self._studies = await self._client.studies.list()
            listed = self._studies
        return [s for s in listed if s.data_collection_id == batch_id]
