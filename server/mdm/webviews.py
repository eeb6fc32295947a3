"""Data for IT's reconciliation page (server/templates/reconcile.html)."""
from __future__ import annotations

import io

from ..reconcile import KINDS, report, write_csv
from ..untrusted import json_text
from .records import SOURCE_NAMES
from .store import findings, sync_status

KIND_WORDS = {
    "compromised": "Compromised", "disagreement": "MDM and laptop disagree",
    "owner_mismatch": "Owner differs",
    "unmanaged": "Reporting, in no MDM", "silent": "In an MDM, not reporting",
    "duplicate": "Twice in one MDM",
}
FACT_WORDS = {"disk_encryption": "Disk encryption", "firewall": "Firewall",
              "system_integrity": "System integrity", "gatekeeper": "Gatekeeper", "os_version": "OS version"}
PAGE = 500


def reconcile_context(engine, cfg, kind: str = "", page: int = 1) -> dict:  # noqa: ANN001
    found = findings(engine, cfg)
    counts = {k: 0 for k in KINDS}
    for f in found:
        counts[f["kind"]] = counts.get(f["kind"], 0) + 1
    kind = kind if kind in KINDS else ""
    shown = [f for f in found if not kind or f["kind"] == kind]
    page = max(1, page)
    return {"findings": shown[(page - 1) * PAGE: page * PAGE], "total": len(shown), "counts": counts,
            "kind": kind, "page": page, "page_size": PAGE, "syncs": sync_status(engine),
            "KIND_WORDS": KIND_WORDS, "FACT_WORDS": FACT_WORDS, "SOURCE_NAMES": SOURCE_NAMES}


def reconcile_export(engine, cfg, fmt: str) -> tuple[str, str]:  # noqa: ANN001
    found = findings(engine, cfg)
    if fmt == "csv":
        buf = io.StringIO()
        write_csv(found, buf)
        return buf.getvalue(), "text/csv; charset=utf-8"
    return json_text(report(found), indent=1), "application/json"
