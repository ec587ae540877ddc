"""Download a complete export job's ZIP by its id.

TEMPORARY local helper: the core has ``batches.export()`` (request + wait + download in one
call) but no public way to download a job already followed, and the pipeline must not ask
for a second export just to download the first. Replace with the core's
``client.batches.download_export(batch_id, export_id, dest)`` once it exists.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import aiohttp
import anyio

import prolific_async as pa

__all__ = ["download_export"]


async def download_export(client: pa.Prolific, batch_id: str, export_id: str,
                          folder: str | os.PathLike[str], job: pa.ExportJob | None = None
                          ) -> Path:
    """Stream the export's ZIP into ``folder`` atomically; returns the file's path.

    ``job`` is the complete job as last seen, if at hand (else it is asked for). The URL is
    presigned storage: the request carries no Prolific token (a fresh session with no default
    headers). An expired URL (403) is refreshed once by asking the job again.
    """
    target = Path(folder) / f"{batch_id}-export-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.zip"
    await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    timeout = aiohttp.ClientTimeout(total=client.timeouts.transfer,
                                    sock_connect=client.timeouts.connect,
                                    sock_read=client.timeouts.read)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for refresh in (False, True):
                if refresh or job is None or job.url is None:
                    job = await client.batches.export_status(batch_id, export_id)
                if job.url is None:
                    raise pa.StorageError(f"export {export_id} of batch {batch_id} is "
                                          f"{job.status}, with no url")
                async with session.get(job.url, allow_redirects=False,
                                       headers={"User-Agent": client.user_agent}) as resp:
                    if resp.status == 403 and not refresh:
                        continue
                    if resp.status != 200:
                        raise pa.StorageError(f"storage answered {resp.status} for export "
                                              f"{export_id} of batch {batch_id}",
                                              status_code=resp.status)
                    async with await anyio.open_file(partial, "wb") as out:
                        async for chunk in resp.content.iter_chunked(1 << 16):
                            await out.write(chunk)
                break
        await anyio.Path(partial).rename(target)
    finally:
        await anyio.Path(partial).unlink(missing_ok=True)
    return target
