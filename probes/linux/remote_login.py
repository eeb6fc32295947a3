"""remote_login on Linux: is an SSH server unit active? Without systemd: is one running?"""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, NO_SYSTEMD, UNSURE, any_unit, unit_active

UNITS = ("ssh", "sshd", "ssh.socket")
# SSH servers as they appear in the process list: OpenSSH "sshd" (Alpine's PAM and Kerberos
# builds run as "sshd.pam" / "sshd.krb5"; 9.8+ adds "sshd-session" per login, 10.0 "sshd-auth",
# cut to 15 letters by the kernel), Dropbear, tinysshd.
SSH_SERVERS = ("sshd", "dropbear", "tinysshd")
SSH_PREFIXES = ("sshd.", "sshd-session", "sshd-auth")
# Programs that start a server only when a connection arrives (sshd -i, dropbear -i, tinysshd).
ON_DEMAND = ("inetd", "xinetd", "tcpsvd", "tcpserver", "s6-tcpserver", "s6-tcpserver4",
             "s6-tcpserver6", "s6-tcpserverd")
ON_DEMAND_REASON = ("a program that starts network services on demand ({name}) is running, "
                    "so SSH could be started when someone connects")


def _names(host: Host) -> set[str]:
    procs = host.processes()
    return {p.strip().rsplit("/", 1)[-1].lower() for p in procs if isinstance(p, str) and p.strip()}


def without_systemd(host: Host, reason: str | None) -> tuple[bool | None, str | None]:
    """From the process list: an SSH server running -> on; none and nothing that could start
    one on demand -> off; an on-demand starter -> unknown; no process list -> unknown."""
    names = _names(host)
    if not names:
        return None, reason
    if any(n in SSH_SERVERS or n.startswith(SSH_PREFIXES) for n in names):
        return True, None
    starters = [n for n in ON_DEMAND if n in names]
    if starters:
        return None, ON_DEMAND_REASON.format(name=starters[0])
    return False, None


def probe(host: Host) -> Fact:
    fact = Fact()
    states = [unit_active(host, unit) for unit in UNITS]
    enabled, reason = any_unit(states)
    if enabled is None and all(s == ABSENT or (s == UNSURE and r == NO_SYSTEMD) for s, r in states):
        # No systemd (Devuan, Alpine, containers): the units cannot say; running programs can.
        enabled, reason = without_systemd(host, reason)
    return fact.set("enabled", enabled, reason)
