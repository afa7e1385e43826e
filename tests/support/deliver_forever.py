"""Child process for the durability test: deliver messages, print each blob id once accept() returned."""

import asyncio
import sys
from pathlib import Path

from mssante_hub.delivery import Envelope, accept
from mssante_hub.hub import Hub
from tests.support.mail import make_message


async def main(data_dir: Path, reader: str) -> None:
    hub = Hub.open(data_dir)
    n = 0
    while True:
        jobs = []
        for _ in range(8):
            n += 1
            raw = make_message("dpi@chu.example", reader, f"rapport {n}", f"corps {n}")
            jobs.append(accept(hub, Envelope("dpi@chu.example", (reader,), channel="mx"), raw))
        for delivered in await asyncio.gather(*jobs):
            sys.stdout.write(f"{delivered.blob_id} {delivered.uids[reader]}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
