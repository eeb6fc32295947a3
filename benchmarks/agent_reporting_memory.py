"""Agent memory with reporting on: RSS of a process with the tray's imports
(psutil, Pillow, plyer, requests) before and after starting a Reporter that
enrolls, sends 50 real reports to a local server and pulls the policy.

    python benchmarks/agent_reporting_memory.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
import psutil, PIL.Image, requests
try:
    import plyer
except Exception:
    pass
proc = psutil.Process()
def rss(): return proc.memory_info().rss / 1e6
import srvkit  # noqa: builds the report bodies the same way the tests do
reports = [srvkit.with_id(srvkit.report_for(f)) for f in srvkit.fixture_files()]
base = rss()
from agent.reporting import Reporter, queue_status
settings = srvkit.agent_settings({url!r}, {token!r})
state = {state!r}
r = Reporter(settings, state)
for i in range(50):
    r.submit(srvkit.with_id(reports[i % len(reports)]))
deadline = time.time() + 60
while time.time() < deadline:
    time.sleep(0.2)
    if queue_status(settings, state)["queued"] == 0 and r.last_result and r.last_result.policy:
        break
after = rss()
print(json.dumps({{"tray_imports_mb": round(base, 1), "with_reporting_mb": round(after, 1),
                  "delta_mb": round(after - base, 1), "queued_left": queue_status(settings, state)["queued"]}}))
r.stop()
"""


def main() -> None:
    import srvkit
    tmp = tempfile.mkdtemp(prefix="checkup-mem-")
    srv = srvkit.LiveServer("sqlite:///" + os.path.join(tmp, "s.sqlite3")).start()
    try:
        token = srv.token()
        code = CHILD.format(root=ROOT, tests=os.path.join(ROOT, "tests", "server"), url=srv.url,
                            token=token, state=os.path.join(tmp, "state"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        print(out.stdout.strip() or out.stderr[-2000:])
        print(json.dumps({"reports_on_server": srv.count("reports")}))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
