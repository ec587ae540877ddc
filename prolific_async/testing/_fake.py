"""`FakeProlific`: the AI Task Builder API on loopback, with a presigned-style storage host.

It puts together the pieces, each in its module: `World` (records, simulation and every
body), `Api` (routes and validation), `Storage` (the S3-style host) and `Plumbing` (serving,
recording, fault injection).
"""

from __future__ import annotations

import fnmatch
from types import TracebackType
from typing import Any, Literal

from ._api import Api
from ._clock import FakeClock
from ._server import Fault, Plumbing, RecordedRequest
from ._state import World
from ._storage import Storage

__all__ = ["FakeProlific"]


class FakeProlific:
    """A stateful fake of the Prolific AI Task Builder API, served on 127.0.0.1.

    Example::

        async with FakeProlific(clock=FakeClock(speed=0)) as fake:
            async with Prolific(fake.token, base_url=fake.url) as client:
                ds = await client.datasets.create(name="d", workspace_id=fake.workspace_id)
                ...
                fake.clock.advance(10)       # let processing finish

    Datasets take ``dataset_processing`` seconds of fake time after an upload, batches
    ``batch_setup`` after setup, exports ``export_generating``; a dataset or batch whose name
    is in ``fail_names`` ends in ERROR (as does an empty or malformed file). After a study is
    published, a simulated participant submits every ``submission_interval`` seconds.
    ``export_contract="200"`` makes a repeated export request reuse a complete export (the
    older documented contract); ``"202"`` always starts or joins a job (the newer one).
    Every request is kept in ``requests`` (unless ``record=False``, for long runs);
    `inject` adds faults.
    """

    def __init__(
        self,
        *,
        token: str = "fake-prolific-token",
        workspace_id: str = "6745ab669112d10b9b3afb48",
        clock: FakeClock | None = None,
        seed: int = 0,
        fail_names: frozenset[str] | set[str] = frozenset(),
        dataset_processing: float = 2.0,
        batch_setup: float = 2.0,
        export_generating: float = 1.0,
        url_ttl: float = 3600.0,
        submission_interval: float = 1.0,
        export_contract: Literal["200", "202"] = "202",
        max_export_jobs: int = 10,
        record: bool = True,
    ) -> None:
        self.token = token
        self.workspace_id = workspace_id
        self.clock = clock or FakeClock()
        self.world = World(
            clock=self.clock, seed=seed, fail_names=frozenset(fail_names),
            dataset_processing=dataset_processing, batch_setup=batch_setup,
            export_generating=export_generating, url_ttl=url_ttl,
            submission_interval=submission_interval,
        )
        self._plumbing = Plumbing(seed=seed, record=record)
        self._storage = Storage(world=self.world, clock=self.clock, seed=seed)
        self._api = Api(world=self.world, storage=self._storage, clock=self.clock, token=token,
                        workspace_id=workspace_id, export_contract=export_contract,
                        max_export_jobs=max_export_jobs)
        self.url = ""
        self.storage_url = ""

    @property
    def record(self) -> bool:
        """Whether every request is kept in `requests` (turn off for long runs)."""
        return self._plumbing.record

    @record.setter
    def record(self, value: bool) -> None:
        self._plumbing.record = value

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (while `record` is on)."""
        return self._plumbing.requests

    @property
    def faults(self) -> list[Fault]:
        """The injected faults, tried in order on every request."""
        return self._plumbing.faults

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> FakeProlific:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        self.url = await self._plumbing.serve(self._api.app(self._plumbing))
        self.storage_url = self._storage.url = await self._plumbing.serve(
            self._storage.app(self._plumbing))

    async def close(self) -> None:
        await self._plumbing.close()

    # -- test helpers -----------------------------------------------------------------------

    def inject(self, **fault: Any) -> Fault:
        """Add a `Fault` (same keyword arguments) and return it."""
        added = Fault(**fault)
        self.faults.append(added)
        return added

    def requests_to(self, method: str = "*", path: str = "*") -> list[RecordedRequest]:
        """The recorded requests whose method and path match these globs."""
        return [r for r in self.requests
                if fnmatch.fnmatchcase(r.method, method) and fnmatch.fnmatchcase(r.path, path)]

    def fail_export(self, owner_id: str, export_id: str) -> None:
        """Make a (generating) export job end ``failed``."""
        self.world.owners[owner_id].exports[export_id].fail = True
