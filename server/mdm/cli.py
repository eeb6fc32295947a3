"""``checkup-server sync SOURCE`` and ``checkup-server reconcile [--json|--csv]``."""
from __future__ import annotations

import argparse
import sys

from . import CONNECTORS

SYNC_CHOICES = (*CONNECTORS, "all")


def add_commands(sub) -> None:  # noqa: ANN001 - an argparse subparsers object
    sy = sub.add_parser("sync", help="pull an MDM inventory now (jamf, intune, google, ivanti or all)")
    sy.add_argument("source", choices=SYNC_CHOICES, metavar="SOURCE",
                    help="jamf, intune, google, ivanti, or all (all skips unconfigured sources)")
    rc = sub.add_parser("reconcile", help="compare agent reports with the MDM inventories")
    fmt = rc.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object (generated_at, findings)")
    fmt.add_argument("--csv", action="store_true", help="CSV, one finding per row")


def run(engine, cfg, args: argparse.Namespace) -> int:  # noqa: ANN001
    from .store import findings, sync_all, sync_source, mdm_config
    if args.command == "sync":
        if args.source == "all":
            results = sync_all(engine, cfg)
        else:
            results = [sync_source(engine, args.source, mdm_config(cfg, args.source))]
        _audit_syncs(engine, results)
        for r in results:
            print(r.line(), file=sys.stdout if r.status == "ok" else sys.stderr)
        if args.source != "all" and results[0].status == "skipped":
            return 3
        if all(r.status == "skipped" for r in results):
            print("No MDM is configured: add an [mdm.jamf], [mdm.intune], [mdm.google] or "
                  "[mdm.ivanti] table to the server config.", file=sys.stderr)
            return 3
        return 3 if any(r.status == "failed" for r in results) else 0   # 3: as every CLI error
    if args.command == "reconcile":
        from ..reconcile import report, write_csv
        found = findings(engine, cfg)
        if args.csv:
            write_csv(found, sys.stdout)
        elif args.json:
            from ..untrusted import json_text
            sys.stdout.write(json_text(report(found), indent=1) + "\n")
        else:
            if not found:
                print("No findings: every reporting device is in an MDM and agrees with it.")
            from ..untrusted import shown   # no control characters from an MDM on a terminal
            for f in found:
                name = f["serial"] or f["hostname"] or f["device_id"] or "?"
                extra = f" {f['fact']}" if f["fact"] else ""
                print(shown(f"{f['kind']}{extra}  {name}  {f['detail']}"))
        return 0
    return 3


def _audit_syncs(engine, results) -> None:  # noqa: ANN001
    """One audit row per source a manual sync ran (not the skipped, unconfigured ones)."""
    from ..audit import cli_actor, record
    for r in results:
        if r.status != "skipped":
            record(engine, actor=cli_actor(), action="mdm.sync", target=r.source,
                   ok=r.status == "ok", detail=r.line())
