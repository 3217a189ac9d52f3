"""Forward TCP connections from one local address to another.

``python -m tools.tcp_forward LISTEN_HOST:PORT TARGET_HOST:PORT``

The real node's pods reach servers of this machine at the node address (``10.250.0.1``), while the
servers themselves stay on 127.0.0.1: the Temporal dev server breaks when bound to another address
(its frontend dials its other services on 127.0.0.1). The target is dialled per connection, so the
forwarder may start before its server. Both addresses must be on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"tcp_forward: {address!r} is not HOST:PORT")
    return host, int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    listen, target = _split(args[0]), _split(args[1])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(listen, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
