"""Helpers shared by the macOS probes (nothing here is macOS-judgement)."""
from __future__ import annotations

import re

from ..host import DEFAULT_TIMEOUT, Host, Result

# Absolute paths of the tools the probes read (SOURCES.md, macOS).
SW_VERS = "/usr/bin/sw_vers"
IOREG = "/usr/sbin/ioreg"
FDESETUP = "/usr/bin/fdesetup"
SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
SYSADMINCTL = "/usr/sbin/sysadminctl"
DEFAULTS = "/usr/bin/defaults"
PMSET = "/usr/bin/pmset"
CSRUTIL = "/usr/bin/csrutil"
SPCTL = "/usr/sbin/spctl"
LAUNCHCTL = "/bin/launchctl"
SYSTEMSETUP = "/usr/sbin/systemsetup"


def run(host: Host, argv: list[str]) -> Result:
    """``host.run`` with the standard timeout (the Host seam never raises; a bug that
    does is the pipeline's to catch and log)."""
    return host.run(argv, timeout=DEFAULT_TIMEOUT)


def failure(result: Result, name: str) -> str:
    """Why ``result`` gave no answer, in words."""
    if result.error is None and result.returncode is None:
        return f"{name} could not be run"
    return result.describe_failure(name)


def not_understood(name: str) -> str:
    return f"{name} gave an answer Checkup does not understand"


# "2024-04-22 09:15:03.944 sysadminctl[5123:61842] " - the NSLog prefix.
_NSLOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+\[\d+(?::[0-9a-fx]+)?\]\s*",
                           re.IGNORECASE)


def strip_nslog(line: str) -> str:
    """A log line without its NSLog timestamp and process prefix."""
    return _NSLOG_PREFIX.sub("", line.strip(), count=1)


def key_absent(result: Result) -> bool:
    """`defaults read` of a key (or domain) that does not exist: exit 1, "does not exist"."""
    return (result.error is None and result.returncode == 1
            and "does not exist" in (result.output or ""))
