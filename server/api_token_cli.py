"""``checkup-server api-token create|list|revoke`` (DESIGN "API for IT").

A token is printed once and stored hashed (server/api_tokens.py); creating and revoking one
writes its audit row in the same transaction, with the actor ``cli:<OS user name>``.
"""
from __future__ import annotations

import sys


def add_commands(sub, days) -> None:  # noqa: ANN001 - argparse subparsers; the --expires type
    apt = sub.add_parser("api-token", help="API tokens for IT's API (/api/v1/devices, findings)")
    apsub = apt.add_subparsers(dest="api_token_command", metavar="ACTION", parser_class=type(apt))
    apc = apsub.add_parser("create", help="make a token (printed once; stored hashed)")
    apc.add_argument("--role", required=True, choices=("viewer", "admin"),
                     help="viewer: read only; admin: may also revoke devices")
    apc.add_argument("--label", required=True, help="what it is for, e.g. 'inventory sync'")
    apc.add_argument("--expires", metavar="DAYS", type=days,
                     help="valid for this many days (more than 0; fractions allowed)")
    apl = apsub.add_parser("list", help="list API tokens (never the tokens themselves)")
    apl.add_argument("--json", action="store_true", help="one JSON array")
    apr = apsub.add_parser("revoke", help="revoke a token: it stops working at once")
    apr.add_argument("token_id")


def run(engine, args) -> int:  # noqa: ANN001
    """checkup-server api-token create|list|revoke (DESIGN "API for IT")."""
    from . import api_tokens, audit
    from .cli import UsageError, _clean, _who
    from .db import utcnow
    cmd = args.api_token_command
    who = _who()
    if cmd == "create":
        label = args.label.strip()
        if not label:
            raise UsageError("checkup-server: give the token a --label saying what it is for")
        if len(label) > 200 or not label.isprintable():
            raise UsageError("checkup-server: the --label must be plain text, at most 200 characters")
        with engine.begin() as conn:   # the token and its audit row, or neither
            ident, token = api_tokens.create_token(conn, args.role, label, who, args.expires)
            audit.record(conn, actor=who, action="api_token.create", target=ident,
                         detail=f"role {args.role}, label {label!r}"
                                + (f", expires in {args.expires:g} days" if args.expires else ""))
            expires = conn.execute(_expiry_of(ident)).scalar()
        print(token)
        print(f"API token {ident}, role {args.role}, "
              f"{'expires ' + f'{expires:%Y-%m-%d %H:%M} UTC' if expires else 'no expiry'}. "
              "Send it as 'Authorization: Bearer <token>'; it is shown only now.", file=sys.stderr)
        return 0
    if cmd == "list":
        now = utcnow()
        with engine.connect() as conn:
            rows = api_tokens.list_tokens(conn)

        def when(t):  # noqa: ANN001, ANN202
            return f"{t:%Y-%m-%dT%H:%M:%SZ}" if t else None

        items = [{"id": t.id, "role": t.role, "label": t.label, "created_at": when(t.created_at),
                  "created_by": t.created_by, "expires_at": when(t.expires_at),
                  "last_used_at": when(t.last_used_at), "revoked_at": when(t.revoked_at),
                  "state": "revoked" if t.revoked_at else (
                      "expired" if t.expires_at and t.expires_at <= now else "active")}
                 for t in rows]
        if args.json:
            from .untrusted import json_text
            print(json_text(items, indent=1))
            return 0
        for t in items:
            print(f"{t['id']}  {t['state']:8}  {t['role']:6}  created {t['created_at']}  "
                  f"expires {t['expires_at'] or 'never'}  last used {t['last_used_at'] or 'never'}"
                  f"{'  revoked ' + t['revoked_at'] if t['revoked_at'] else ''}  {_clean(t['label'])}")
        if not items:
            print("No API tokens yet: checkup-server api-token create --role viewer --label TEXT",
                  file=sys.stderr)
        return 0
    if cmd == "revoke":
        ident = args.token_id.strip()
        with engine.begin() as conn:
            row = conn.execute(_token_row(ident)).first() if len(ident) <= 32 else None
            if row is None:
                raise UsageError(f"checkup-server: no API token {_clean(ident)!r} "
                                 "(see 'checkup-server api-token list')")
            done = api_tokens.revoke_token(conn, ident)
            if done:
                audit.record(conn, actor=who, action="api_token.revoke", target=ident,
                             detail=f"role {row.role}, label {row.label!r}")
        print(f"Revoked API token {ident}: it no longer works." if done else
              f"API token {ident} was already revoked.")
        return 0
    raise UsageError("checkup-server api-token: give an action: create, list or revoke")


def _expiry_of(ident: str):  # noqa: ANN202
    from sqlalchemy import select

    from .models import ApiToken
    return select(ApiToken.expires_at).where(ApiToken.id == ident)


def _token_row(ident: str):  # noqa: ANN202
    from sqlalchemy import select

    from .models import ApiToken
    return select(ApiToken.id, ApiToken.role, ApiToken.label).where(ApiToken.id == ident)
