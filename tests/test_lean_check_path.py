"""The check path stays lean: no tray, imaging or HTTP libraries are imported."""
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "linux" / "fedora-44-gnome-lock-too-slow-dnf5-automatic.json"

PROBE = """
import io, sys, contextlib
from agent.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pystray', 'PIL', 'requests', 'plyer', 'urllib3', 'server'))
print(heavy)
"""


def test_check_imports_no_tray_imaging_or_http():
    for args in (["check", "--json", "--replay", str(FIXTURE)], ["check", "--replay", str(FIXTURE)]):
        out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
