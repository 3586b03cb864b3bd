#!/usr/bin/env python3
"""Slowloris connections for benches/slowloris.sh (standard library only).

Opens N connections to 127.0.0.1:PORT; each sends the start of a request head, then one
more byte of a header every INTERVAL seconds, and never finishes it. Records, for each,
when the server closed it (EOF or reset) counted from the moment it connected. Writes
"opened N" to --ready-file once every connection is open, and a JSON summary to stdout
when every connection is closed or --max-time has passed (then it closes what is left).
"""

import argparse
import asyncio
import json
import statistics
import sys
import time


async def one(i, port, interval, stop, closed_after, opened, failed):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        failed.append(i)
        return f"connect: {e}"
    t0 = time.monotonic()
    opened.append(i)
    writer.write(b"GET /slowloris/%d HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " % i)

    async def trickle():
        # A byte every `interval`; the head never ends.
        while True:
            try:
                await writer.drain()
            except OSError:
                return
            await asyncio.sleep(interval)
            if writer.is_closing():
                return
            writer.write(b"a")

    trickling = asyncio.ensure_future(trickle())
    watching = asyncio.ensure_future(reader.read(1024))
    done, _ = await asyncio.wait({watching, stop}, return_when=asyncio.FIRST_COMPLETED)
    trickling.cancel()
    if watching in done:
        try:
            data = watching.result()
        except OSError:
            data = b""
        if data:
            # An answer to an unfinished head would be a bug in the server.
            closed_after[i] = ("answered", time.monotonic() - t0, data[:80].decode("latin-1"))
        else:
            closed_after[i] = ("closed", time.monotonic() - t0, "")
    else:
        watching.cancel()
    writer.close()
    return None


async def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=3000)
    p.add_argument("--interval", type=float, default=3.0)
    p.add_argument("--max-time", type=float, default=120.0)
    p.add_argument("--open-rate", type=int, default=1000, help="connections opened per second")
    p.add_argument("--ready-file", required=True)
    a = p.parse_args()

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.call_later(a.max_time, lambda: stop.done() or stop.set_result(None))
    closed_after, opened, failed = {}, [], []
    tasks = []
    started = time.monotonic()
    for i in range(a.conns):
        tasks.append(asyncio.ensure_future(one(i, a.port, a.interval, stop, closed_after, opened, failed)))
        if (i + 1) % 100 == 0:
            # Paced, so the listen backlog is never the bottleneck being measured.
            await asyncio.sleep(100 / a.open_rate)
    while len(opened) + len(failed) < a.conns and not stop.done():
        await asyncio.sleep(0.05)
    open_time = time.monotonic() - started
    with open(a.ready_file, "w") as f:
        f.write(f"opened {len(opened)}\n")
    results = await asyncio.gather(*tasks)
    errors = [r for r in results if r]
    times = [t for kind, t, _ in closed_after.values() if kind == "closed"]
    answered = [(i, v[2]) for i, v in closed_after.items() if v[0] == "answered"]
    summary = {
        "requested": a.conns,
        "opened": len(opened),
        "connect_errors": len(errors),
        "first_connect_error": errors[0] if errors else None,
        "seconds_to_open_all": round(open_time, 2),
        "closed_by_server": len(times),
        "answered": len(answered),
        "first_answer": answered[0][1] if answered else None,
        "still_open_at_max_time": len(opened) - len(closed_after),
        "closed_after_s": {
            "min": round(min(times), 2),
            "median": round(statistics.median(times), 2),
            "max": round(max(times), 2),
        } if times else None,
    }
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
