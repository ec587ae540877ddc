"""Getting the data out, as a user writes it: it must type-check under mypy --strict."""

from __future__ import annotations

from typing import Any

import prolific_async as pa


def describe(value: pa.ResponseValue) -> str:
    match value:
        case pa.FreeTextValue(value=text) | pa.FreeTextWithUnitValue(value=text):
            return text
        case pa.MultipleChoiceValue(values=chosen):
            return ", ".join(chosen)
        case pa.MultipleChoiceWithFreeTextValue(values=picks):
            return "; ".join(f"{p.option}: {p.explanation}" for p in picks)
        case pa.FileUploadValue(files=files):
            return ", ".join(f.path or f.key or f.name for f in files)
        case pa.UnknownValue(type=kind, data=data):
            return f"{kind.value}: {data}"
    return str(value.type)


async def collect(client: pa.Prolific, batch_id: str) -> list[dict[str, Any]]:
    async for r in client.batches.responses(batch_id):
        if not r.no_submission:
            print(describe(r.value))

    def show(done: int, total: int | None) -> None:
        print(done, total)

    progress: pa.ProgressCallback = show
    await client.batches.download_report(batch_id, "out/", progress=progress)
    path = await client.batches.export(batch_id, "out/", progress=show)
    with pa.ExportArchive(path) as archive:
        info: pa.ExportInfo = archive.info
        for record in archive.submissions():
            submission: pa.SubmissionRecord = record
            for task_id, answers in submission.responses.items():
                for instruction_id, value in answers.items():
                    print(task_id, info.instructions[instruction_id].description, describe(value))
        for task in archive.tasks():
            entries: list[pa.TaskSubmission] = task.responses
            print(task.task_id, len(entries))
        for file in (f for r in archive.submissions() for a in r.responses.values()
                     for v in a.values() if isinstance(v, pa.FileUploadValue) for f in v.files):
            with archive.open(file) as data:
                print(len(data.read()))
        try:
            archive.extract("out/export/")
        except pa.ArchiveError as exc:
            print(exc.member, exc.line)
        return list(archive.rows(sep="|"))
