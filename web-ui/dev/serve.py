#!/usr/bin/env python3
"""Dev server for the trafik dashboard (loopback only, ephemeral port by default).

Lays the site out like trafik does: the UI at /dashboard/, the API at /api/... and /health,
answered from the fixture files next to this script.

  python3 web-ui/dev/serve.py              # live mode: /health counters grow on every poll
  python3 web-ui/dev/serve.py --static     # serve the fixture files verbatim
  python3 web-ui/dev/serve.py --port 8099

While running, GET /__dev/down makes every API call fail with 502 and /__dev/up restores it
(to check the "cannot reach trafik" state); --fail-after N drops every API call after the first N.
"""
import argparse
import json
import math
import mimetypes
import random
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEV = Path(__file__).resolve().parent
UI = DEV.parent
FIXTURES = {"/api/providers": "api/providers", "/api/state": "api/state", "/health": "health", "/api/version": "api/version"}


def iso(dt):
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Sim:
    """Synthesised /health: every call advances a virtual clock by 2 s."""

    def __init__(self, base):
        self.base = base
        self.uptime = base["uptime_sec"]
        self.total = dict(base["total_status_code_count"])
        self.total_time = base["total_response_time_sec"]
        self.step = 0

    def next(self):
        self.step += 1
        dt = 2.0
        self.uptime += dt
        t = self.step
        rate = max(0.0, 38 + 22 * math.sin(t / 9) + 9 * math.sin(t / 2.3) + random.uniform(-4, 4))
        if 40 <= t % 60 <= 43:
            rate *= 2.2  # burst
        n = int(rate * dt)
        latency = 0.007 + 0.003 * math.sin(t / 7) + random.uniform(0, 0.002) + (0.025 if 40 <= t % 60 <= 43 else 0)
        live = {}
        for code, share in (("200", .93), ("304", .04), ("404", .015), ("502", .01), ("301", .005)):
            k = int(round(n * share))
            if k:
                live[code] = k
                self.total[code] = self.total.get(code, 0) + k
        n = sum(live.values())
        self.total_time += n * latency
        total = sum(self.total.values())
        now = datetime.now(timezone.utc)
        d = dict(self.base)
        d.update({
            "uptime_sec": round(self.uptime, 3), "uptime": f"{int(self.uptime // 3600)}h{int(self.uptime % 3600 // 60)}m{self.uptime % 60:.1f}s",
            "unixtime": int(time.time()), "time": now.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC"),
            "status_code_count": {k: int(v / dt) for k, v in live.items()}, "count": int(n / dt),
            "total_status_code_count": self.total, "total_count": total,
            "total_response_time_sec": round(self.total_time, 4),
            "average_response_time_sec": round(self.total_time / total, 6) if total else 0,
            "average_response_time": f"{self.total_time / total * 1000:.2f}ms" if total else "0s",
        })
        offsets = [3, 25, 110, 130]
        d["recent_errors"] = [dict(e, time=iso(now - timedelta(seconds=offsets[i % 4]))) for i, e in enumerate(self.base["recent_errors"])]
        return d


class Handler(BaseHTTPRequestHandler):
    server_version = "trafik-dev"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        srv = self.server
        path = self.path.split("?")[0]
        if path == "/__dev/down":
            srv.down = True
            return self.send(200, "down\n", "text/plain")
        if path == "/__dev/up":
            srv.down = False
            return self.send(200, "up\n", "text/plain")
        if path in ("/", "/dashboard"):
            self.send_response(302)
            self.send_header("Location", "/dashboard/")
            self.end_headers()
            return
        if path.startswith("/dashboard/"):
            rel = path[len("/dashboard/"):] or "index.html"
            f = (UI / rel).resolve()
            if UI not in f.parents or not f.is_file() or "dev" in f.relative_to(UI).parts:
                return self.send(404, "404 page not found\n", "text/plain")
            ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
            if f.suffix == ".js":
                ctype = "text/javascript"
            return self.send(200, f.read_bytes(), ctype)
        if path in FIXTURES:
            srv.api_calls += 1
            if srv.fail_after is not None and srv.api_calls > srv.fail_after:
                self.close_connection = True  # no response at all: the browser sees a network error
                return
            if srv.down:
                return self.send(502, "Bad Gateway\n", "text/plain")
            if path == "/api/state" and srv.no_state:
                return self.send(404, "404 page not found\n", "text/plain")
            if path == "/health" and srv.sim:
                return self.send(200, json.dumps(srv.sim.next()))
            body = (DEV / FIXTURES[path]).read_text()
            if path == "/api/state" and not srv.static:
                st = json.loads(body)
                now = datetime.now(timezone.utc)
                for i, p in enumerate(st.get("providers", {}).values()):
                    p["lastReload"] = iso(now - timedelta(seconds=95 + 600 * i))
                body = json.dumps(st)
            return self.send(200, body)
        self.send(404, "404 page not found\n", "text/plain")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--static", action="store_true", help="serve fixtures verbatim")
    ap.add_argument("--no-state", action="store_true", help="answer /api/state with 404 (plain v1 server)")
    ap.add_argument("--fail-after", type=int, default=None, help="drop every API call after the first N (simulate trafik going away)")
    args = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.static = args.static
    httpd.no_state = args.no_state
    httpd.down = False
    httpd.api_calls = 0
    httpd.fail_after = args.fail_after
    httpd.sim = None if args.static else Sim(json.loads((DEV / "health").read_text()))
    print(f"http://127.0.0.1:{httpd.server_address[1]}/dashboard/", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
