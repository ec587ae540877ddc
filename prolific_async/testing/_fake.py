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
from ._hooks import FakeHooks
from ._money import Money, MoneyApi
from ._server import Fault, Plumbing, RecordedRequest
from ._spec import SpecValidator, available
from ._state import World
from ._storage import Storage
from ._v4 import V4

__all__ = ["FakeProlific"]


def _spec_validator(wanted: bool | None) -> SpecValidator | None:
    if wanted is False or (wanted is None and not available()):
        return None
    return SpecValidator.load()  # True without the libraries: their ImportError says so


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

    What a test can check: ``requests`` / `requests_to` (every request, unless
    ``record=False`` for long runs), `stats` (requests by route, always counted),
    `fault_counts`, and ``world`` (what the server holds: ``world.batches_named(name)``,
    ``world.studies_for(batch_id)``, ``StudyRec.publish_count``, ``world.exports_for(id)``,
    ``world.datasets_named(name)``; see `World`), and ``money`` (approvals, bonus payments
    and the wallet; see `Money`). `inject` and `chaos` add seeded faults.

    Webhooks work as documented (secrets, subscriptions confirmed with ``X-Hook-Secret``,
    the delivery log): the studies' status and progress changes are delivered, signed, to
    loopback target URLs, with seeded faults; see `FakeHooks` (``fake.hooks``).

    Export archives follow the documented layout; storage downloads honour ``Range``.
    The API is served on ``host:port`` (loopback and a free port by default), storage on the
    same host and a free port. ``rate_limit=N`` answers API requests beyond N a second (a
    token bucket of N, in real time) with 429 and ``Retry-After``, as a busy API would;
    `rate_limited` counts them. ``export_padding_bytes=N`` adds a member of N zero bytes to
    every export archive, streamed without being built, to benchmark large downloads.
    ``validate_spec`` checks request bodies against Prolific's OpenAPI document (400 for what
    it refuses; see `prolific_async.testing._spec`): on when the ``test`` extra's
    ``jsonschema`` and ``pyyaml`` are importable (None), required (True), or off (False).
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
        export_padding_bytes: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = None,
        validate_spec: bool | None = None,
    ) -> None:
        self.token = token
        self._host, self._port = host, port
        self.workspace_id = workspace_id
        self.clock: FakeClock = clock or FakeClock()
        self.world: World = World(
            clock=self.clock, seed=seed, fail_names=frozenset(fail_names),
            dataset_processing=dataset_processing, batch_setup=batch_setup,
            export_generating=export_generating, url_ttl=url_ttl,
            submission_interval=submission_interval,
        )
        self._plumbing = Plumbing(seed=seed, record=record, rate_limit=rate_limit)
        self._storage = Storage(world=self.world, clock=self.clock, plumbing=self._plumbing,
                                seed=seed, export_padding_bytes=export_padding_bytes)
        self._api = Api(world=self.world, storage=self._storage, clock=self.clock, token=token,
                        workspace_id=workspace_id, export_contract=export_contract,
                        max_export_jobs=max_export_jobs,
                        spec=_spec_validator(validate_spec))
        #: Review decisions, bonuses and the wallet (see `Money`).
        self.money: Money = Money(world=self.world, clock=self.clock)
        #: Webhooks: secrets, subscriptions, signed deliveries (see `FakeHooks`).
        self.hooks: FakeHooks = FakeHooks(api=self._api, world=self.world, clock=self.clock,
                                          seed=seed)
        self.url: str = ""
        self.storage_url: str = ""

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
        app = self._api.app(self._plumbing)
        MoneyApi(self.money, self._api).add_routes(app)
        self.hooks.install(app)
        self.url = await self._plumbing.serve(app, self._host, self._port)
        self.storage_url = self._storage.url = await self._plumbing.serve(
            self._storage.app(), self._host)

    async def close(self) -> None:
        await self._plumbing.close()

    # -- test helpers -----------------------------------------------------------------------

    def inject(self, **fault: Any) -> Fault:
        """Add a `Fault` (same keyword arguments) and return it."""
        added = Fault(**fault)
        self.faults.append(added)
        return added

    def chaos(
        self,
        *,
        seed: int,
        rate_limit: float = 0.0,
        unavailable: float = 0.0,
        drop: float = 0.0,
        lose_answer: float = 0.0,
        slow: float = 0.0,
        slow_seconds: float = 1.0,
        jitter: float = 0.0,
        retry_after: str = "1",
        method: str = "*",
        path: str = "*",
    ) -> list[Fault]:
        """Add a seeded fault profile for every request matching ``method`` and ``path``
        (both hosts by default) and return its faults.

        Each rate is the fraction of requests that get that fault: ``rate_limit`` a 429 with
        ``Retry-After: retry_after``, ``unavailable`` a 503, ``drop`` a cut connection before
        the server acts, ``lose_answer`` a cut connection after it acted, ``slow`` an answer
        held back ``slow_seconds``. The kinds exclude one another (the rates add up to at most
        1), and every answer that gets through is held back a further uniform
        ``[0, jitter]`` seconds. Count what fired with `fault_counts`.

        Example::

            fake.chaos(seed=7, rate_limit=0.10, unavailable=0.05, drop=0.02,
                       lose_answer=0.02, slow=0.01, slow_seconds=3, jitter=0.005)
        """
        rates = {"rate_limit": rate_limit, "unavailable": unavailable, "drop": drop,
                 "lose_answer": lose_answer, "slow": slow}
        if any(not 0 <= r <= 1 for r in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("each rate must be in [0, 1] and together at most 1")
        shapes: dict[str, dict[str, Any]] = {
            "rate_limit": {"status": 429, "retry_after": retry_after},
            "unavailable": {"status": 503},
            "drop": {"drop": True},
            "lose_answer": {"lose_answer": True},
            "slow": {"status": None, "latency": slow_seconds},
        }
        added: list[Fault] = []
        left = 1.0  # the share of requests no earlier fault of the profile has taken
        for index, (kind, rate) in enumerate(rates.items()):
            if rate > 0:
                # Faults are tried in order, so fault i sees only the requests the earlier
                # ones let through: scale its probability to fire on `rate` of all of them.
                added.append(Fault(method=method, path=path, seed=seed * 16 + index,
                                   probability=min(1.0, rate / left), **shapes[kind]))
            left -= rate
        if jitter > 0:
            added.append(Fault(method=method, path=path, status=None, jitter=jitter,
                               seed=seed * 16 + len(rates)))
        self.faults.extend(added)
        return added

    @property
    def rate_limited(self) -> int:
        """How many API requests the ``rate_limit`` refused with a 429 so far."""
        return 0 if self._plumbing.bucket is None else self._plumbing.bucket.refused

    def fault_counts(self) -> dict[str, int]:
        """How many times faults fired, by `Fault.kind` (``{"rate_limit": 12, ...}``)."""
        return self._plumbing.fault_counts()

    def stats(self) -> dict[str, int]:
        """Requests received so far by route and method, for both hosts, recorded or not:
        ``{"GET /api/v1/data-collection/batches/{batch_id}/status": 31, ...}``."""
        return self._plumbing.stats()

    def requests_to(self, method: str = "*", path: str = "*") -> list[RecordedRequest]:
        """The recorded requests whose method and path match these globs."""
        return [r for r in self.requests
                if fnmatch.fnmatchcase(r.method, method) and fnmatch.fnmatchcase(r.path, path)]

    @property
    def v4(self) -> V4:
        """The V4 dataset parts: ``append_sizes`` (records per append request), ``conflicts``
        (409 answers to appends), ``overlapping_syncs`` (syncs asked for while another of
        the same batch still ran) and ``syncs_of(batch_id)``."""
        return self._api.v4

    def fail_export(self, owner_id: str, export_id: str) -> None:
        """Make a (generating) export job end ``failed``."""
        self.world.owners[owner_id].exports[export_id].fail = True
