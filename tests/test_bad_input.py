"""The bad-input catalogue: every mistake a user (or a broken server) can make, the exact
error the user sees, and proof from the fake's records that nothing was sent or half-created.

Cases already pinned elsewhere, not repeated here:

- ids with ``/``, ``..``, whitespace, control characters, ``?``, ``#``, ``%`` or empty, on
  every call: ``tests/test_validation.py`` (which this module extends with unicode ids);
- instruction rules (answer limit beyond the options, empty options, unit and file rules),
  refused when the model is built, so no call can send them:
  ``tests/test_models_rules.py::test_answer_limit_outside_the_options_is_refused`` and
  ``test_documented_rules_are_checked_at_construction``;
- a dataset file that does not exist, is empty, is a directory or has another extension:
  ``tests/test_datasets.py::test_bad_paths_are_refused_before_sending`` and
  ``test_missing_file_sends_nothing``;
- every other plan-file mistake, with its field and line: ``tests/test_planfile.py``;
- error bodies of every documented shape, huge error bodies, HTML error pages:
  ``tests/test_transport.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import DETAILS, QUESTIONS, ready_batch, write_csv

pytestmark = pytest.mark.anyio

DC = "/api/v1/data-collection"
BATCHES = f"{DC}/batches"
REFUSED_TOKEN = "copy it again from Prolific (Settings > API tokens)"


def refused(error: type[BaseException] | tuple[type[BaseException], ...],
            message: str) -> pytest.RaisesContext[Any]:
    """``pytest.raises`` of ``error`` with exactly ``message``: the words the user reads."""
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def fast(fake: FakeProlific, token: str | None = None, **options: Any) -> pa.Prolific:
    return pa.Prolific(fake.token if token is None else token, base_url=fake.url, seed=5,
                       retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.002), **options)


# -- the token --------------------------------------------------------------------------------

@pytest.mark.parametrize(("token", "message"), [
    (None, "no Prolific API token: pass Prolific(token=...) or set PROLIFIC_TOKEN"),
    ("", "no Prolific API token: pass Prolific(token=...) or set PROLIFIC_TOKEN"),
    (" \n\t", "no Prolific API token: pass Prolific(token=...) or set PROLIFIC_TOKEN"),
    ("abc def", f"the Prolific API token contains whitespace: {REFUSED_TOKEN}"),
    ("abc\tdef", f"the Prolific API token contains whitespace: {REFUSED_TOKEN}"),
    ("abc\ndef", f"the Prolific API token contains a line break: {REFUSED_TOKEN}"),
    ("abc\r\nX-Evil: 1", f"the Prolific API token contains a line break: {REFUSED_TOKEN}"),
    ("abc\x00def", "the Prolific API token contains a character that is not printable "
                   f"ASCII: {REFUSED_TOKEN}"),
    ("abcdéf", "the Prolific API token contains a character that is not printable ASCII: "
               f"{REFUSED_TOKEN}"),
], ids=["missing", "empty", "blank", "space", "tab", "newline", "header-injection", "nul",
        "non-ascii"])
def test_a_bad_token_is_refused_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch, token: str | None, message: str,
) -> None:
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    with refused(pa.ConfigurationError, message):
        pa.Prolific(token)


@pytest.mark.parametrize("padded", [" {} ", "{}\n", "\t{}\r\n"])
async def test_whitespace_around_the_token_is_dropped(fake_prolific: FakeProlific,
                                                      padded: str) -> None:
    # A token read from a file ends in a newline; whitespace is never part of a token.
    async with fast(fake_prolific, padded.format(fake_prolific.token)) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    [sent] = fake_prolific.requests
    assert sent.headers["Authorization"] == f"Token {fake_prolific.token}"


async def test_a_wrong_token_is_one_401_and_creates_nothing(fake_prolific: FakeProlific) -> None:
    async with fast(fake_prolific, "not-the-token") as client:
        with refused(pa.AuthenticationError, f"401 Unauthorized: Invalid token. (POST {BATCHES})"):
            await client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                        task_details=DETAILS)
    assert len(fake_prolific.requests) == 1  # a 401 is not retried
    assert fake_prolific.world.batches_named("b") == []


# -- the base URL -----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "message"), [
    ("api.prolific.com", "base_url 'api.prolific.com' is refused: it has no scheme: use "
                         "'https://api.prolific.com'"),
    ("api.prolific.com/api/v1", "base_url 'api.prolific.com/api/v1' is refused: it has no "
                                "scheme: use 'https://api.prolific.com'"),
    ("https://api.prolific.com/api/v1", "base_url 'https://api.prolific.com/api/v1' is "
     "refused: it must be the API's address without a path: use 'https://api.prolific.com' "
     "(the SDK adds /api/v1/ itself)"),
    ("https://api.prolific.com/api/v1/", "base_url 'https://api.prolific.com/api/v1/' is "
     "refused: it must be the API's address without a path: use 'https://api.prolific.com' "
     "(the SDK adds /api/v1/ itself)"),
    ("https://api.prolific.com?x=1", "base_url 'https://api.prolific.com?x=1' is refused: it "
     "must be the API's address without a path: use 'https://api.prolific.com' (the SDK adds "
     "/api/v1/ itself)"),
    ("ftp://api.prolific.com", "base_url 'ftp://api.prolific.com' is refused: it must be an "
                               "http(s) URL like 'https://api.prolific.com'"),
    ("http://api.prolific.com", "base_url 'http://api.prolific.com' is refused: plain http "
     "would send the token across the network in clear: use https (http is accepted only for "
     "localhost, 127.0.0.1 and ::1)"),
    ("https://me:secret@api.prolific.com", "base_url (hidden) is refused: it must not carry "
                                           "a user name or password"),
    ("https://api.prolific.com:99999", "base_url 'https://api.prolific.com:99999' is refused: "
     "it is not a valid URL (Port out of range 0-65535)"),
], ids=["no-scheme", "no-scheme-with-path", "path", "path-slash", "query", "ftp", "plain-http",
        "credentials", "bad-port"])
def test_a_bad_base_url_is_refused_when_the_client_is_built(url: str, message: str) -> None:
    with refused(pa.ConfigurationError, message):
        pa.Prolific("t", base_url=url)


@pytest.mark.parametrize("url", ["https://api.prolific.com/", "http://localhost:8000",
                                 "http://127.0.0.2:8000", "http://[::1]:8000"])
def test_an_origin_over_https_or_on_this_machine_is_accepted(url: str) -> None:
    assert pa.Prolific("t", base_url=url).base_url == url.rstrip("/")


async def test_the_fake_with_the_api_path_appended_is_refused_before_sending(
    fake_prolific: FakeProlific,
) -> None:
    with pytest.raises(pa.ConfigurationError, match="without a path"):
        pa.Prolific(fake_prolific.token, base_url=fake_prolific.url + "/api/v1")
    assert fake_prolific.requests == []


# -- ids and filenames ------------------------------------------------------------------------

@pytest.mark.parametrize(("bad", "message"), [
    ("a/b", "batch_id is not a valid path segment: 'a/b'"),
    ("..", "batch_id is not a valid path segment: '..'"),
    ("a b", "batch_id is not a valid path segment: 'a b'"),
    ("", "batch_id is not a valid path segment: ''"),
    ("bätch", "batch_id is not a valid path segment: 'bätch' (ids are ASCII)"),
    # Fullwidth letters and solidus: some servers fold them (NFKC) into "a/b".
    ("\uff41\uff0f\uff42", "batch_id is not a valid path segment: '\uff41\uff0f\uff42'"),
    ("\u2024\u2024", "batch_id is not a valid path segment: '\u2024\u2024'"),  # one-dot leaders
])
async def test_a_bad_id_names_the_parameter_and_sends_nothing(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, bad: str, message: str,
) -> None:
    with refused(ValueError, message):
        await prolific_client.batches.get(bad)
    assert fake_prolific.requests == []


async def test_a_unicode_filename_is_sent_quoted_but_a_lookalike_slash_is_refused(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    csv = write_csv(tmp_path)
    with refused(ValueError, "filename is not a valid path segment: 'a\uff0f..\uff0fx.csv'"):
        await prolific_client.datasets.upload(ds.id, csv, filename="a\uff0f..\uff0fx.csv")
    assert fake_prolific.requests_to("GET", "*/upload-url/*") == []
    await prolific_client.datasets.upload(ds.id, csv, filename="données.csv")
    [asked] = fake_prolific.requests_to("GET", "*/upload-url/*")
    assert asked.path.endswith("/upload-url/données.csv")  # quoted on the wire, one segment


# -- instruction lists and layouts ------------------------------------------------------------

ITEM = "an item model (pa.MultipleChoice, pa.FreeText, pa.RichText, ... or pa.UnknownItem)"
INSTRUCTION = "an instruction model (pa.MultipleChoice, pa.FreeText, ... or pa.UnknownItem)"


def layout_with(item: Any) -> list[pa.BatchPage]:
    return pa.one_page([QUESTIONS[0], item])


@pytest.mark.parametrize(("call", "message"), [
    (lambda c, ws, b: c.instructions.create(b, [QUESTIONS[0], {"type": "slider"}]),
     f"instructions[1] must be {INSTRUCTION}, got dict: build it with the SDK's models"),
    (lambda c, ws, b: c.instructions.create(b, ["Why?"]),
     f"instructions[0] must be {INSTRUCTION}, got str: build it with the SDK's models"),
    (lambda c, ws, b: c.instructions.create(b, [pa.RichText(content="<p>hi</p>")]),
     f"instructions[0] must be {INSTRUCTION}, got RichText: build it with the SDK's models"),
    (lambda c, ws, b: c.instructions.create(b, []),
     "instructions must be a non-empty sequence of instruction models"),
    (lambda c, ws, b: c.batches.create(name="n", workspace_id=ws, task_details=DETAILS,
                                       batch_items=layout_with({"type": "slider"})),
     f"batch_items[0].rows[0].columns[0].items[1] must be {ITEM}, got dict: build it with "
     "the SDK's models"),
    (lambda c, ws, b: c.batches.create(name="n", workspace_id=ws, task_details=DETAILS,
                                       batch_items=[{"rows": []}]),
     "batch_items[0] must be a pa.BatchPage, got dict: build it with the SDK's models"),
    (lambda c, ws, b: c.batches.create(name="n", workspace_id=ws, task_details=DETAILS,
                                       batch_items=QUESTIONS),
     "batch_items[0] must be a pa.BatchPage, got MultipleChoice: build it with the SDK's "
     "models"),
    (lambda c, ws, b: c.batches.update(b, batch_items=layout_with("Why?")),
     f"batch_items[0].rows[0].columns[0].items[1] must be {ITEM}, got str: build it with "
     "the SDK's models"),
    (lambda c, ws, b: c.collections.create(
        name="n", workspace_id=ws, task_details=DETAILS,
        collection_items=[pa.CollectionPage(order=0, page_items=[{"type": "free_text"}])]),
     f"collection_items[0].page_items[0] must be {ITEM}, got dict: build it with the SDK's "
     "models"),
], ids=["instruction-dict", "instruction-str", "instruction-content-block", "instructions-empty",
        "layout-item-dict", "layout-page-dict", "layout-items-not-pages", "update-item-str",
        "collection-item-dict"])
async def test_a_list_that_is_not_the_sdks_models_is_refused_before_sending(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, call: Callable[..., Any],
    message: str,
) -> None:
    with refused((TypeError, ValueError), message):
        await call(prolific_client, fake_prolific.workspace_id, "b1")
    assert fake_prolific.requests == []


async def test_an_item_of_an_unknown_type_is_the_servers_to_refuse_and_creates_nothing(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    # pa.UnknownItem is the deliberate way past the SDK's checks (a type it does not know
    # yet): it is sent as given, and the server's refusal is shown whole.
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, dataset_id=ds.id,
        task_details=DETAILS)
    slider = pa.UnknownItem(type="slider", data={"type": "slider", "description": "How much?"})
    with refused(pa.BadRequestError, "400 Bad Request: spec: instructions[1].type: 'slider' is "
                 "not one of ['multiple_choice', 'free_text', 'multiple_choice_with_free_text', "
                 "'free_text_with_unit', 'file_upload'] "
                 f"(POST {BATCHES}/{batch.id}/instructions)"):
        await prolific_client.instructions.create(batch.id, [QUESTIONS[0], slider])
    assert fake_prolific.world.owners[batch.id].instructions == []


def test_instruction_rules_are_refused_when_the_model_is_built() -> None:
    # The full table is in test_models_rules; here, the exact words a user reads.
    two = [pa.Option(label="A", value="a"), pa.Option(label="B", value="b")]
    with refused(ValueError, "MultipleChoice: answer_limit 3 is not between 1 and the number of "
                 "options (2), nor -1 (any number)"):
        pa.MultipleChoice(description="Pick", options=two, answer_limit=3)
    with refused(ValueError, "MultipleChoice: options must not be empty"):
        pa.MultipleChoice(description="Pick", options=[])


# -- dataset files whose content is not what their name says ----------------------------------

FILES: list[tuple[str, bytes, str]] = [
    ("sheet.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(64),
     "it holds NUL bytes: it is a binary file, not CSV or JSONL text"),
    ("latin1.csv", "prompt,response\ncaf\xe9,ok\n".encode("latin-1"),
     "it is not UTF-8 text (byte 19 cannot be read): save it as UTF-8"),
    ("blank.csv", b"\n\n  \n", "it holds only blank lines"),
    ("array.jsonl", b'[{"prompt": "a"}, {"prompt": "b"}]\n',
     "its first line is not a JSON object (JSONL holds one object per line)"),
    ("table.jsonl", b"prompt,response\na,b\n",
     "its first line is not a JSON object (JSONL holds one object per line)"),
    ("data.zip", b"prompt,response\na,b\n", "it is not a ZIP archive"),
]


@pytest.mark.parametrize(("name", "content", "problem"), FILES, ids=[f[0] for f in FILES])
async def test_a_file_that_is_not_what_its_name_says_is_refused_before_uploading(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path, name: str,
    content: bytes, problem: str,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    path = tmp_path / name
    path.write_bytes(content)
    with refused(ValueError, f"cannot upload {str(path)!r}: {problem}"):
        await prolific_client.datasets.upload(ds.id, path)
    # Nothing past the create: no upload URL asked for, nothing put, the dataset untouched.
    assert [r.method for r in fake_prolific.requests] == ["POST"]
    assert fake_prolific.world.datasets[ds.id].uploads == {}


async def test_a_file_can_be_checked_before_its_dataset_is_created(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    with refused(FileNotFoundError, f"no such file to upload: {str(tmp_path / 'nope.csv')!r}"):
        await prolific_client.datasets.check_upload(tmp_path / "nope.csv")
    (tmp_path / "array.jsonl").write_text('[{"a": 1}]\n')
    with refused(ValueError, f"cannot upload {str(tmp_path / 'array.jsonl')!r}: its first "
                 "line is not a JSON object (JSONL holds one object per line)"):
        await prolific_client.datasets.check_upload(tmp_path / "array.jsonl")
    await prolific_client.datasets.check_upload(write_csv(tmp_path))
    assert fake_prolific.requests == []


PLAN_FILE = """[defaults]
workspace_id = "ws-1"
task_details = {task_name = "t", task_introduction = "i", task_steps = "s"}

[[plan]]
name = "one"
dataset = "one.csv"
"""
LIMIT_BEYOND_OPTIONS = ('instructions = [{type = "multiple_choice", description = "Which?", '
                        'answer_limit = 3, options = [{label = "A", value = "a"}, '
                        '{label = "B", value = "b"}]}]')


@pytest.mark.parametrize(("line", "message"), [
    (LIMIT_BEYOND_OPTIONS, "plan #1 ('one'): MultipleChoice: answer_limit 3 is not between 1 "
                           "and the number of options (2), nor -1 (any number) at "
                           "instructions[0]"),
    ('instructions = [{type = "slider", description = "How much?"}]',
     "plan #1 ('one'): unknown item type 'slider'; known: dataset_field, file_upload, "
     "free_text, free_text_with_unit, image, multiple_choice, "
     "multiple_choice_with_free_text, rich_text at instructions[0]"),
    ('instructions = [{type = "multiple_choice", description = "Which?", options = []}]',
     "plan #1 ('one'): MultipleChoice: options must not be empty at instructions[0]"),
    ('name = "two', "not valid TOML: Illegal character '\\n' (at line 8, column 12)"),
], ids=["answer-limit", "unknown-type", "empty-options", "broken-toml"])
def test_a_malformed_plan_file_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    # More plan-file mistakes, each with its field and line: tests/test_planfile.py.
    path = tmp_path / "plans.toml"
    path.write_text(PLAN_FILE + line + "\n")
    with refused(pa.PlanFileError, f"{path}:8: {message}") as caught:
        pa.load_plans(path)
    assert caught.value.line == 8


async def test_a_plan_whose_file_is_bad_creates_nothing(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02")
    (tmp_path / "folder.csv").mkdir()
    plans = [pa.BatchPlan(name=name, workspace_id=fake_prolific.workspace_id,
                          dataset=tmp_path / name, task_details=DETAILS, instructions=QUESTIONS)
             for name in ("missing.csv", "empty.csv", "binary.csv", "folder.csv")]
    async with pa.orchestrate(prolific_client, plans) as run:
        results = await run.wait()
    assert [(type(r.error).__name__, r.stage.value) for r in results] == [
        ("FileNotFoundError", "dataset_create"), ("ValueError", "dataset_create"),
        ("ValueError", "dataset_create"), ("IsADirectoryError", "dataset_create")]
    assert fake_prolific.requests == []  # not even an empty dataset left behind


async def test_a_utf8_csv_whose_sample_ends_inside_a_character_is_accepted(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    # 64 KiB into the file falls in the middle of a two-byte "é": only the sample is cut.
    path = tmp_path / "long.csv"
    path.write_bytes(b"prompt,response\n" + b"x" * (64 * 1024 - 17) + "é,ok\n".encode())
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    await prolific_client.datasets.upload(ds.id, path)
    assert len(fake_prolific.requests_to("PUT")) == 1


# -- server answers that are not what the API documents ---------------------------------------

async def test_a_2xx_answer_that_is_not_json_is_a_clear_error(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    page = "<html><body><h1>Please log in</h1></body></html>"
    fake_prolific.inject(method="GET", path=f"{BATCHES}/b1", status=200, body=page, times=1)
    with refused(pa.UnexpectedResponseError, f"GET {BATCHES}/b1 answered 200 with a body "
                 "that is not JSON (text/html; charset=utf-8): Please log in") as caught:
        await prolific_client.batches.get("b1")
    assert caught.value.body == page
    assert len(fake_prolific.requests) == 1  # a wrong answer is not retried


async def test_a_list_answered_with_a_page_is_an_error_not_an_empty_list(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="GET", path=BATCHES, status=200, body="<html>maintenance</html>",
                         times=1)
    with pytest.raises(pa.UnexpectedResponseError, match="not JSON"):
        await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)
    fake_prolific.inject(method="GET", path=BATCHES, status=200, body={"detail": "odd"},
                         times=1)
    with refused(pa.UnexpectedResponseError, f"GET {BATCHES} answered 200 with a body that "
                 "is not a list: {'detail': 'odd'}"):
        await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)


async def test_json_cut_short_inside_a_complete_answer_is_a_clear_error(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="GET", path=f"{BATCHES}/b1", status=200,
                         body='{"id": "b1", "na', times=1)
    with refused(pa.UnexpectedResponseError, f"GET {BATCHES}/b1 answered 200 with a body "
                 'that is not JSON (text/html; charset=utf-8): {"id": "b1", "na'):
        await prolific_client.batches.get("b1")


async def test_json_under_the_wrong_content_type_is_read(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    # The body decides, not the label: a proxy that relabels JSON as text/html costs nothing.
    fake_prolific.inject(method="GET", path=BATCHES, status=200, body='{"results": []}',
                         times=1)
    assert await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    [sent] = fake_prolific.requests
    assert sent.headers["Accept"] == "application/json"


async def test_an_answer_cut_midway_is_retried_when_reading(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path=f"{BATCHES}/{batch.id}", truncate_after=20, times=1)
    assert (await prolific_client.batches.get(batch.id)).id == batch.id
    assert len(fake_prolific.requests_to("GET", f"{BATCHES}/{batch.id}")) == 3


async def test_an_answer_cut_midway_after_a_create_is_an_unknown_outcome(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="POST", path=BATCHES, truncate_after=20, times=1)
    with pytest.raises(pa.OutcomeUnknownError, match="may have carried it out"):
        await prolific_client.batches.create(name="cut", workspace_id=fake_prolific.workspace_id,
                                             task_details=DETAILS)
    # The server did create it, once: the error said to look, and looking finds it.
    assert len(fake_prolific.world.batches_named("cut")) == 1
    assert len(fake_prolific.requests_to("POST", BATCHES)) == 1


CAP = 64 * 1024


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_gigantic_answer_is_refused_unread(fake_prolific: FakeProlific,
                                                   chunked: bool) -> None:
    huge = {"results": [{"id": f"b{i}", "name": "x" * 100} for i in range(10_000)]}  # ~1.2 MB
    fake_prolific.inject(method="GET", path=BATCHES, status=200, body=huge, chunked=chunked,
                         times=1)
    size = "" if chunked else f" (Content-Length {len(json.dumps(huge))})"
    async with fast(fake_prolific, max_response_bytes=CAP) as client:
        with refused(pa.UnexpectedResponseError, f"GET {BATCHES} answered 200 with more than "
                     f"{CAP} bytes{size}: refused unread; if this answer is expected, raise "
                     "Prolific(max_response_bytes=...)") as caught:
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
        # The connection that was cut short is not reused: the next call works.
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    assert caught.value.body is None
    assert len(fake_prolific.requests_to("GET", BATCHES)) == 2  # not retried


async def test_an_answer_within_the_cap_is_read(fake_prolific: FakeProlific) -> None:
    ds_body = {"id": "d1", "name": "x" * (CAP - 100), "status": "READY"}
    fake_prolific.inject(method="GET", path=f"{DC}/datasets/d1", status=200, body=ds_body,
                         chunked=True, times=1)
    async with fast(fake_prolific, max_response_bytes=CAP) as client:
        assert (await client.datasets.get("d1")).name == ds_body["name"]


def test_the_cap_must_be_positive() -> None:
    with refused(pa.ConfigurationError, "max_response_bytes must be >= 1, got 0"):
        pa.Prolific("t", max_response_bytes=0)


# -- storage URLs that are not https ----------------------------------------------------------

PLAIN = "http://storage.example.com/exports/e1.zip?X-Amz-Signature=s3cr3t-signature"
REFUSED_HTTP = ("it is plain http off this machine: storage URLs must be https (http is "
                "accepted only for localhost, 127.0.0.1 and ::1)")


async def test_an_export_url_over_plain_http_is_refused_before_downloading(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.inject(method="POST", path=f"{BATCHES}/{batch.id}/export", status=200,
                         body={"status": "complete", "url": PLAIN}, times=1)
    # The signature in the query is a credential: not in the message either.
    with refused(pa.StorageError, "refused to GET http://storage.example.com/exports/e1.zip: "
                 f"{REFUSED_HTTP}"):
        await prolific_client.batches.export(batch.id, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert fake_prolific.requests_to("GET", "/exports/*") == []


@pytest.mark.parametrize(("url", "problem"), [
    ("http://storage.example.com/reports/b.csv", REFUSED_HTTP),
    ("ftp://127.0.0.1/reports/b.csv", "it is not an http(s) URL"),
    ("file:///etc/passwd", "it is not an http(s) URL"),
])
async def test_a_report_url_that_is_not_https_is_refused(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path, url: str,
    problem: str,
) -> None:
    fake_prolific.inject(method="GET", path=f"{BATCHES}/b1/report/", status=200,
                         body={"url": url, "expires_at": None, "http_method": "GET"})
    with refused(pa.StorageError, f"refused to GET {url}: {problem}"):
        await prolific_client.batches.download_report("b1", tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_an_upload_url_over_plain_http_is_refused_before_putting(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    fake_prolific.inject(method="GET", path="*/upload-url/*", status=201, body={
        "dataset_id": ds.id, "http_method": "PUT", "expires_at": "2030-01-01T00:00:00Z",
        "upload_url": "http://uploads.example.com/k?X-Amz-Signature=abc"}, times=1)
    with refused(pa.StorageError, f"refused to PUT http://uploads.example.com/k: {REFUSED_HTTP}"):
        await prolific_client.datasets.upload(ds.id, write_csv(tmp_path))
    assert fake_prolific.requests_to("PUT") == []
