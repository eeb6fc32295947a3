"""Dependency floors admit no version with a known advisory, and the server image and CI
install the versions in constraints/server.txt, which agree with those floors."""
from __future__ import annotations

import re
import sys

import pytest

from deploykit import DEPLOY, REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

packaging = pytest.importorskip("packaging")
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402
from packaging.version import Version  # noqa: E402

CONSTRAINTS = REPO / "constraints" / "server.txt"

# The first version without the advisories known when the floors were last raised (see the
# comments in pyproject.toml). A floor may be higher, never lower.
SAFE = {
    "python-multipart": "0.0.31",   # CVE-2024-53981 (0.0.18) ... GHSA-v9pg-7xvm-68hf (0.0.31)
    "starlette": "1.3.1",           # CVE-2026-48710, -48818, -54282, -54283
    "jinja2": "3.1.6",              # CVE-2025-27516 and earlier
    "requests": "2.33",             # CVE-2026-25645
    "urllib3": "2.7",               # CVE-2026-44432
    "h11": "0.16",                  # CVE-2025-43859
    "pillow": "12.3",               # CVE-2026-55379 and others
    "cryptography": "50",           # CVE-2026-69247
}


def _project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _requirements() -> list[Requirement]:
    p = _project()
    return [Requirement(r) for r in p["dependencies"] + p["optional-dependencies"]["server"]]


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([0-9][A-Za-z0-9.+!-]*)", line)
        assert m, f"constraints/server.txt: not name==version: {line!r}"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _floor(req: Requirement) -> Version | None:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(lows) if lows else None


def test_floors_admit_no_version_with_a_known_advisory():
    floors = {canonicalize_name(r.name): _floor(r) for r in _requirements()}
    for name, safe in SAFE.items():
        assert name in floors, f"{name}: no floor in pyproject.toml"
        assert floors[name] is not None and floors[name] >= Version(safe), (name, floors[name], safe)


def test_every_pin_satisfies_the_floors_and_every_dependency_is_pinned():
    pins = _pins()
    env = {"sys_platform": "linux", "platform_system": "Linux", "extra": ""}
    for req in _requirements():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints/server.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (str(req), pins[name])
    # the pins are what constraints/update.py finds installed here: same set of packages
    sys.path.insert(0, str(REPO / "constraints"))
    try:
        import update
        try:
            found = update.closure()
        except SystemExit as exc:
            pytest.skip(f"this environment does not hold the server extra: {exc}")
    finally:
        sys.path.pop(0)
    assert set(found) == set(pins), (sorted(set(found) ^ set(pins)))


def test_the_image_and_ci_install_with_the_constraints():
    docker = (DEPLOY / "Dockerfile").read_text()
    assert "COPY constraints/server.txt constraints/server.txt" in docker
    assert re.search(r'pip install -c constraints/server.txt "\.\[server\]"', docker)
    assert "!constraints/server.txt" in (DEPLOY / "Dockerfile.dockerignore").read_text()
    setup = (REPO / ".ci" / "setup").read_text()
    assert re.search(r"pip install .*-c constraints/server\.txt .*\.\[test,server", setup)
    readme = (REPO / "README.md").read_text()
    assert "python3 constraints/update.py" in readme
