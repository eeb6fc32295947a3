"""``checkup-server webhook add|list|delete|test`` and ``checkup-server digest send``
(README "Alerts: webhooks and email"). Changes are audited as ``cli:<OS user name>``."""
from __future__ import annotations

import sys


def add_commands(sub) -> None:  # noqa: ANN001 - argparse subparsers
    from .webhooks import EVENTS, FORMATS
    wh = sub.add_parser("webhook", help="outgoing webhooks: alerts where IT works")
    whs = wh.add_subparsers(dest="webhook_command", metavar="ACTION", parser_class=type(wh))
    wa = whs.add_parser("add", help="add a webhook (its signing secret is printed once)")
    wa.add_argument("--name", required=True)
    wa.add_argument("--url", required=True, help="https:// (http:// only to this machine)")
    wa.add_argument("--format", choices=FORMATS, default="generic")
    wa.add_argument("--event", action="append", choices=EVENTS,
                    help="repeat for several; default: every event")
    whs.add_parser("list", help="the webhooks and their deliveries (never their secrets)")
    whs.add_parser("delete", help="delete a webhook: its secret stops signing").add_argument("webhook_id")
    whs.add_parser("test", help="queue a test message").add_argument("webhook_id")
    dg = sub.add_parser("digest", help="the per-person email digest")
    dgs = dg.add_subparsers(dest="digest_command", metavar="ACTION", parser_class=type(dg))
    ds = dgs.add_parser("send", help="send today's digests now (still at most one a day each)")
    ds.add_argument("--force", action="store_true", help="also outside working days and hours")


def run(engine, cfg, args) -> int:  # noqa: ANN001
    from .cli import UsageError, _clean, _who
    if args.command == "digest":
        from . import digest
        try:
            r = digest.send_due(engine, cfg, force=args.force)
        except digest.DigestConfigError as exc:
            raise UsageError(f"checkup-server: {exc}") from None
        print(f"Digests: {r['sent']} sent, {r['failed']} failed, {r['already']} already sent "
              f"today, {r['nothing_to_do']} with nothing to do.")
        return 1 if r["failed"] else 0
    from . import webhooks
    from . import webhooks_store as store
    cmd = args.webhook_command
    try:
        if cmd == "add":
            with engine.begin() as conn:
                ident, secret = webhooks.create(conn, name=args.name, url=args.url, fmt=args.format,
                                                events=args.event or webhooks.EVENTS, actor=_who())
            print(secret)
            print(f"Webhook {ident}. Its signing secret (above) is shown only now.", file=sys.stderr)
            return 0
        if cmd == "delete":
            with engine.begin() as conn:
                ok = webhooks.delete(conn, args.webhook_id, actor=_who())
        elif cmd == "test":
            ok = webhooks.send_test(engine, args.webhook_id, actor=_who())
        else:
            with engine.connect() as conn:
                hooks, counts = store.webhooks(conn), store.counts(conn)
            for h in hooks:
                n = {s: counts.get((h.id, s), 0) for s in ("pending", "delivered", "failed")}
                print(f"{h.id}  {h.format:7}  {_clean(h.name)}  {webhooks._shown_url(h.url)}  "
                      f"{h.events}  waiting {n['pending']}, delivered {n['delivered']}, "
                      f"failed {n['failed']}")
            if not hooks:
                print("No webhooks yet: checkup-server webhook add --name TEXT --url URL",
                      file=sys.stderr)
            return 0
    except webhooks.WebhookError as exc:
        raise UsageError(f"checkup-server: {exc}") from None
    if not ok:
        raise UsageError(f"checkup-server: no webhook {args.webhook_id!r}")
    print("Deleted." if cmd == "delete" else "Test message queued; the running server sends it.")
    return 0
