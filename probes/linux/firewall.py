"""firewall on Linux: ufw, firewalld, nftables, iptables, in that order (SOURCES.md).

The first backend that is on wins. A backend that could not be read but might be on
makes ``enabled`` unknown unless a backend after it is on.
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import NOT_FOUND, Host
from ._util import ON, OFF, first_line, run, unit_active

UFW_CONF = "/etc/ufw/ufw.conf"
NFT_CONF = "/etc/nftables.conf"
FIREWALL_CMD = ["/usr/bin/firewall-cmd", "--state"]
NFT = ["/usr/sbin/nft", "list", "ruleset"]
IPTABLES = ["/usr/sbin/iptables", "-S"]
NEEDS_ADMIN = "needs administrator rights"

# -- ufw -------------------------------------------------------------------


def parse_ufw_conf(text: str | None) -> bool | None:
    """True when /etc/ufw/ufw.conf says ENABLED=yes; None when unreadable.

    ufw itself treats anything but "yes" (or a missing line) as disabled.
    """
    if text is None:
        return None
    enabled = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if key.strip() == "ENABLED":
            enabled = value.split("#", 1)[0].strip().strip("\"'").lower()
    return enabled == "yes"


# -- firewalld --------------------------------------------------------------


def parse_firewalld_state(returncode: int | None, stdout: str, stderr: str) -> bool | None:
    """`firewall-cmd --state`: 'running' exit 0 -> True; 'not running' exit 252 -> False."""
    out = first_line(stdout).lower()
    err = first_line(stderr).lower()
    if returncode == 0 and out == "running":
        return True
    if returncode == 252 or out in ("not running", "firewalld is not running") \
            or err in ("not running", "firewalld is not running"):
        return False
    # firewalld cannot run without the D-Bus system bus
    if "dbus_error" in err and "system_bus_socket" in err and (
            "no such file or directory" in err or "connection refused" in err):
        return False
    return None


# -- nftables ---------------------------------------------------------------

_BLOCK_WORDS = {"table", "chain", "set", "map", "flowtable", "counter", "quota", "ct", "limit",
                "synproxy", "secmark", "meter"}
_FAMILIES = {"ip", "ip6", "inet", "arp", "bridge", "netdev"}
_VERDICT_RE = re.compile(r"(?<![\w-])(drop|reject)(?![\w-])")
_JUMP_RE = re.compile(r"(?<![\w-])(?:jump|goto)\s+(\"[^\"]+\"|[\w.-]+)")
_STRING_RE = re.compile(r"\"[^\"]*\"")


def _strip_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        out, quoted = [], False
        for ch in line:
            if ch == '"':
                quoted = not quoted
            elif ch == "#" and not quoted:
                break
            out.append(ch)
        lines.append("".join(out))
    return "\n".join(lines)


class _Ruleset:
    def __init__(self) -> None:
        self.chains: dict[tuple[str, str, str], dict] = {}
        self.tables = 0
        self.includes = False
        self.unknown = 0

    def chain(self, family: str, table: str, name: str) -> dict:
        return self.chains.setdefault((family, table, name.strip('"')),
                                      {"hook": None, "policy": None, "rules": []})


def _table_words(words: list[str]) -> tuple[str, str] | None:
    if not words:
        return None
    if words[0] in _FAMILIES and len(words) >= 2:
        return words[0], words[1]
    return "ip", words[0]


def parse_nft(text: str | None) -> "_Ruleset | None":
    """Tables and chains of `nft list ruleset` output or an nft -f file."""
    if text is None:
        return None
    rs = _Ruleset()
    # frames: (kind, family, table, chain)
    stack: list[tuple[str, str | None, str | None, str | None]] = [("root", None, None, None)]
    buf: list[str] = []
    anon = 0

    def statement(stmt: str) -> None:
        stmt = stmt.strip()
        if not stmt:
            return
        kind, family, table, chain = stack[-1]
        if kind == "chain":
            words = stmt.split()
            target = rs.chain(family or "ip", table or "", chain or "")
            if words[0] == "type" and "hook" in words:
                i = words.index("hook")
                target["hook"] = words[i + 1].lower() if i + 1 < len(words) else None
            elif words[0] == "policy" and len(words) >= 2:
                target["policy"] = words[1].rstrip(";").lower()
            elif words[0] in ("comment", "devices", "device"):
                pass
            else:
                target["rules"].append(stmt)
        elif kind == "root":
            words = stmt.split()
            verb = words[0]
            if verb == "include":
                rs.includes = True
            elif verb in ("add", "insert", "append") and len(words) >= 3 and words[1] == "rule":
                rest = words[2:]
                if rest and rest[0] in _FAMILIES:
                    family, rest = rest[0], rest[1:]
                else:
                    family = "ip"
                if len(rest) >= 3:
                    rs.chain(family, rest[0], rest[1])["rules"].append(" ".join(rest[2:]))
            elif verb in ("flush", "define", "delete", "destroy", "list", "reset", "redefine",
                          "undefine", "add", "create", "table", "chain"):
                pass
            else:
                rs.unknown += 1
        # statements inside tables/sets/other objects do not matter here

    def open_block(head: str) -> bool:
        words = head.split()
        if words and words[0] in ("add", "create"):
            words = words[1:]
        if not words or words[0] not in _BLOCK_WORDS:
            return False
        kind, family, table, chain = stack[-1]
        word = words[0]
        if word == "table" and kind == "root":
            got = _table_words(words[1:])
            if got is None:
                return False
            rs.tables += 1
            stack.append(("table", got[0], got[1], None))
        elif word == "chain" and kind == "table" and len(words) >= 2:
            stack.append(("chain", family, table, words[1].strip('"')))
            rs.chain(family or "ip", table or "", words[1])
        elif word == "chain" and kind == "root" and len(words) >= 3:
            rest = words[1:]
            fam = "ip"
            if rest[0] in _FAMILIES:
                fam, rest = rest[0], rest[1:]
            if len(rest) < 2:
                return False
            stack.append(("chain", fam, rest[0], rest[1].strip('"')))
            rs.chain(fam, rest[0], rest[1])
        elif kind in ("root", "table") and word != "table" and word != "chain":
            stack.append(("other", family, table, None))
        elif kind == "chain":
            return False  # e.g. "ct state { ... }" inside a rule
        else:
            stack.append(("other", family, table, None))
        return True

    for ch in _strip_comments(text):
        if anon:
            buf.append(ch)
            if ch == "{":
                anon += 1
            elif ch == "}":
                anon -= 1
            continue
        if ch == "{":
            head = "".join(buf)
            if open_block(head):
                buf = []
            else:
                buf.append(ch)
                anon = 1
        elif ch == "}":
            statement("".join(buf))
            buf = []
            if len(stack) > 1:
                stack.pop()
        elif ch in "\n;":
            statement("".join(buf))
            buf = []
        else:
            buf.append(ch)
    statement("".join(buf))
    return rs


def _reachable_blocks(chains: dict, start: tuple[str, str, str]) -> bool:
    seen = set()
    todo = [start]
    while todo:
        key = todo.pop()
        if key in seen or key not in chains:
            continue
        seen.add(key)
        for rule in chains[key]["rules"]:
            bare = _STRING_RE.sub("", rule)
            if _VERDICT_RE.search(bare):
                return True
            for target in _JUMP_RE.findall(rule):
                todo.append((key[0], key[1], target.strip('"')))
    return False


def nft_blocks(text: str | None) -> bool | None:
    """True when an input hook chain has policy drop or reaches a drop/reject rule.

    None when the text is not an nft ruleset at all (text present, no table)."""
    rs = parse_nft(text)
    if rs is None:
        return None
    if rs.tables == 0 and not rs.chains:
        if rs.unknown:
            return None
        return False  # an empty ruleset
    for key, chain in rs.chains.items():
        if chain["hook"] != "input" or key[0] not in ("ip", "ip6", "inet"):
            continue
        if chain["policy"] == "drop" or _reachable_blocks(rs.chains, key):
            return True
    return False


def nft_has_includes(text: str | None) -> bool:
    rs = parse_nft(text)
    return bool(rs and rs.includes)


# -- iptables ---------------------------------------------------------------


def parse_iptables(text: str | None) -> bool | None:
    """`iptables -S`: True on `-P INPUT DROP` or a DROP/REJECT rule reachable from INPUT."""
    if text is None:
        return None
    policy = None
    rules: dict[str, list[list[str]]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] == "-P" and len(words) >= 3:
            if words[1] == "INPUT":
                policy = words[2].upper()
        elif words[0] in ("-A", "-I") and len(words) >= 2:
            rules.setdefault(words[1], []).append(words[2:])
        elif words[0] == "-N":
            continue
        else:
            return None
    if policy is None:
        return None
    if policy == "DROP":
        return True
    seen, todo = set(), ["INPUT"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for rule in rules.get(name, []):
            for i, word in enumerate(rule[:-1]):
                if word in ("-j", "-g", "--jump", "--goto"):
                    target = rule[i + 1]
                    if target in ("DROP", "REJECT"):
                        return True
                    todo.append(target)
    return False


# -- probe ------------------------------------------------------------------


def _ufw(host: Host) -> tuple[bool | None, str | None]:
    text = host.read_text(UFW_CONF)
    if text is None:
        return False, None  # ufw is not installed (the file is world-readable)
    return parse_ufw_conf(text), None


def _firewalld(host: Host) -> tuple[bool | None, str | None]:
    result = run(host, FIREWALL_CMD)
    if result.error == NOT_FOUND:
        return False, None
    if result.error:
        return None, result.describe_failure("firewall-cmd")
    got = parse_firewalld_state(result.returncode, result.stdout, result.stderr)
    if got is None:
        return None, "firewall-cmd gave an answer Checkup does not understand"
    return got, None


def _nftables(host: Host, admin: bool) -> tuple[bool | None, str | None]:
    if admin:
        result = run(host, NFT)
        if result.error == NOT_FOUND:
            return False, None
        if result.error or result.returncode != 0:
            return None, result.describe_failure("nft")
        got = nft_blocks(result.stdout)
        if got is None:
            return None, "nft gave an answer Checkup does not understand"
        return got, None
    # Without root only the service state tells; with no systemctl to ask, rules
    # loaded at boot cannot be seen: unknown, never "off".
    state, reason = unit_active(host, "nftables")
    if state == OFF:
        return False, None
    if state != ON:
        return None, reason
    text = host.read_text(NFT_CONF)
    if text is None:
        return None, NEEDS_ADMIN
    got = nft_blocks(text)
    if got:
        return True, None
    if got is None or nft_has_includes(text):
        return None, NEEDS_ADMIN
    return False, None


def _iptables(host: Host, admin: bool) -> tuple[bool | None, str | None]:
    if admin:
        result = run(host, IPTABLES)
        if result.error == NOT_FOUND:
            return False, None
        if result.error or result.returncode != 0:
            return None, result.describe_failure("iptables")
        got = parse_iptables(result.stdout)
        if got is None:
            return None, "iptables gave an answer Checkup does not understand"
        return got, None
    state, reason = unit_active(host, "netfilter-persistent")
    if state == ON:
        return None, NEEDS_ADMIN
    if state == OFF:
        return False, None
    return None, reason


def probe(host: Host) -> Fact:
    fact = Fact()
    admin = host.is_admin()
    reasons: list[str] = []
    backends = (
        ("ufw", lambda: _ufw(host)),
        ("firewalld", lambda: _firewalld(host)),
        ("nftables", lambda: _nftables(host, admin)),
        ("iptables", lambda: _iptables(host, admin)),
    )
    for name, check in backends:
        on, reason = check()
        if on:
            fact.observed["enabled"] = True
            fact.observed["backend"] = name
            return fact
        if on is None:
            reasons.append(reason or f"the {name} state could not be read")
    if reasons:
        fact.miss("enabled", reasons[0])
        fact.miss("backend", reasons[0])
        return fact
    fact.observed["enabled"] = False
    fact.observed["backend"] = None
    return fact
