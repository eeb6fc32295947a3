"""os_version on Linux: /etc/os-release (then /usr/lib/os-release) and the kernel release."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import parse_os_release, read_os_release

KERNEL_RELEASE = "/proc/sys/kernel/osrelease"
ROLLING = "this distribution has no version number (rolling release)"


def parse_kernel_release(text: str | None) -> str | None:
    """The first line of /proc/sys/kernel/osrelease, e.g. '6.8.0-49-generic'."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= 200 and " " not in line else None
    return None


def parse(text: str | None) -> dict | None:
    """name / version / id from os-release text (None when it has no KEY=value line).

    NAME and ID default to "Linux" / "linux" as os-release(5) says; a missing
    VERSION_ID stays None (rolling release).
    """
    values = parse_os_release(text)
    return None if values is None else parse_os_release_values(values)


def probe(host: Host) -> Fact:
    fact = Fact()
    release, path = read_os_release(host)
    if path is None:
        for name in ("name", "version", "id"):
            fact.miss(name, "/etc/os-release could not be read")
    elif release is None:
        for name in ("name", "version", "id"):
            fact.miss(name, f"{path} has no readable values")
    else:
        got = parse_os_release_values(release)
        fact.observed["name"] = got["name"]
        fact.observed["id"] = got["id"]
        fact.extra["os_id"] = got["id"].lower()
        if got["version"] is None:
            fact.miss("version", ROLLING)
            fact.extra["rolling"] = True
        else:
            fact.observed["version"] = got["version"]
    build = parse_kernel_release(host.read_text(KERNEL_RELEASE))
    fact.set("build", build, "the kernel release could not be read")
    return fact


def parse_os_release_values(values: dict[str, str]) -> dict:
    name = (values.get("NAME") or "").strip() or "Linux"
    os_id = (values.get("ID") or "").strip() or "linux"
    version = (values.get("VERSION_ID") or "").strip() or None
    return {"name": name, "version": version, "id": os_id}
