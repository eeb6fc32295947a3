"""One copy of each rule the agent and the server share, and no import cycles where
helpers lived in the wrong module (issue 14, item 4)."""
from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from agent import status, verdicts
from probes import serials

ROOT = Path(__file__).resolve().parent.parent


# -- placeholder serials and UUIDs ----------------------------------------------------------

def test_the_server_uses_the_agents_placeholder_list():
    from server.mdm import records
    assert not hasattr(records, "PLACEHOLDER_SERIALS") and not hasattr(records, "_PLACEHOLDER_UUIDS")
    for value in serials.PLACEHOLDER_SERIALS:
        assert records.normalise_serial(value) is None, value
        assert records.normalise_serial(value.upper()) is None, value
        assert serials.is_placeholder_serial(value.title()), value


@pytest.mark.parametrize("value", ["System Product Name", "To be filled by O.E.M.", "Base Board Serial Number",
                                   "Null", "  not  specified ", "XXXXXXXX", "0000-0000", "-", ""])
def test_agent_and_server_agree_on_placeholders(value):
    from server.mdm.records import normalise_serial
    assert serials.is_placeholder_serial(value)
    assert normalise_serial(value) is None


@pytest.mark.parametrize("value", ["C02XK1JHJG5H", "PF3ABCDE", "5CG1234XYZ", "0012AB"])
def test_agent_and_server_agree_on_real_serials(value):
    from server.mdm.records import normalise_serial
    assert not serials.is_placeholder_serial(value)
    assert normalise_serial(value) == value.upper()


def test_placeholder_uuids_agree():
    from server.mdm.records import normalise_uuid
    for u in serials.PLACEHOLDER_UUIDS:
        assert normalise_uuid(u) is None and normalise_uuid(u.replace("-", "").upper()) is None
    assert normalise_uuid("4c4c4544-0048-3510-8052-b7c04f4b3332") == "4C4C4544-0048-3510-8052-B7C04F4B3332"


# -- status order and the device status ------------------------------------------------------

def test_one_status_order_and_device_status():
    from server import schemas
    assert schemas.STATUS_ORDER is status.STATUS_ORDER is verdicts.STATUS_ORDER
    assert schemas.device_status is status.device_status is verdicts.device_status
    assert schemas.RANK is status.RANK
    assert typing.get_args(schemas.Status) == status.STATUS_ORDER


@pytest.mark.parametrize("statuses,want", [
    (["pass", "fail", "nudge"], "fail"), (["pass", "nudge", "unknown"], "nudge"),
    (["skip", "pass", "unknown"], "pass"), (["skip", "unknown"], "unknown"), ([], "unknown"),
])
def test_device_status(statuses, want):
    assert status.device_status(statuses) == want
    assert status.device_status(iter(statuses)) == want


def test_worst_first_is_stable():
    checks = [{"id": "a", "status": "pass"}, {"id": "b", "status": "fail"}, {"id": "c", "status": "nudge"},
              {"id": "d", "status": "fail"}, {"id": "e", "status": "bogus"}]
    assert [c["id"] for c in status.worst_first(checks)] == ["b", "d", "c", "a", "e"]


# -- import cycles --------------------------------------------------------------------------

def _graph() -> dict[str, set[str]]:
    files = {}
    for pkg in ("agent", "probes", "server"):
        for f in (ROOT / pkg).rglob("*.py"):
            if "migrations" in f.parts:
                continue
            rel = f.relative_to(ROOT).with_suffix("")
            files[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = f
    graph: dict[str, set[str]] = {}
    for name, f in files.items():
        here = name.split(".") if f.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):   # lazy imports count too
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                prefix = ".".join(base + ([node.module] if node.module else []))
                targets = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t in files and t != name)
        graph[name] = deps
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def _package_reaches(graph, start_pkg: str, goal_pkg: str) -> bool:
    inside = lambda m, p: m == p or m.startswith(p + ".")  # noqa: E731
    return any(_reaches(graph, m, g) for m in graph if inside(m, start_pkg)
               for g in graph if inside(g, goal_pkg))


def test_the_graph_sees_imports():
    graph = _graph()
    assert "agent.runtime" in graph["agent.cli"] and "agent.runtime" in graph["agent.tray"]
    assert "agent.checks" in graph["agent.policy"]


def test_no_cycle_between_cli_and_tray():
    graph = _graph()
    assert _package_reaches(graph, "agent.cli", "agent.tray")          # cli starts the tray
    assert not _package_reaches(graph, "agent.tray", "agent.cli")


def test_no_cycle_between_app_and_web():
    graph = _graph()
    assert _reaches(graph, "server.app", "server.web")
    assert not _reaches(graph, "server.web", "server.app")


def test_agent_and_probes_have_no_cycles_and_probes_import_no_agent():
    graph = _graph()
    ours = [m for m in graph if m.split(".")[0] in ("agent", "probes")]
    for m in ours:
        for d in graph[m]:
            assert not _reaches(graph, d, m), (m, d)
    assert not any(d.startswith("agent") for m in graph if m.startswith("probes") for d in graph[m])
