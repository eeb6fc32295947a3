"""Antivirus products registered in Windows Security Center (root/SecurityCenter2)."""
from __future__ import annotations

import json

from ..fact import Fact
from ..host import Host
from ._util import ANTIVIRUS_SCRIPT, clean_output, powershell, to_int

NO_NAMESPACE = ("invalid namespace", "0x8004100e", "ungültiger namespace",
                "espace de noms non valide")
NOT_UNDERSTOOD = "Security Center gave an answer Checkup does not understand"


def product_state(state: int) -> tuple[bool, bool]:
    """(enabled, up_to_date): bits 12-15 == 1 is on, bits 4-7 == 0 is current signatures."""
    return ((state >> 12) & 0xF) == 1, ((state >> 4) & 0xF) == 0


def _field(item: dict, name: str):
    for key, value in item.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def parse_products(text: str | None) -> list[dict] | None:
    """ConvertTo-Json output (one object or an array) -> products, [] for no output, else None."""
    body = clean_output(text)
    if not body:
        return []
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    items = data if isinstance(data, list) else [data]
    products = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = _field(item, "displayName")
        state = _field(item, "productState")
        state = None if isinstance(state, bool) else to_int(state) if isinstance(state, (int, str)) else None
        if not isinstance(name, str) or not name.strip() or state is None or state < 0:
            return None
        enabled, up_to_date = product_state(state)
        products.append({"name": name.strip(), "enabled": enabled, "up_to_date": up_to_date})
    return products


def probe(host: Host) -> Fact:
    fact = Fact()
    result = powershell(host, ANTIVIRUS_SCRIPT)
    if result.error is not None:
        fact.miss("products", result.describe_failure("the Security Center query"))
        return fact
    errors = " ".join(result.stderr.split()).lower() if isinstance(result.stderr, str) else ""
    if any(marker in errors for marker in NO_NAMESPACE):
        fact.miss("products", "Security Center is not available on this system (Windows Server)")
        return fact
    if result.returncode != 0 or errors:
        fact.miss("products", result.describe_failure("the Security Center query")
                  if result.returncode != 0 else NOT_UNDERSTOOD)
        return fact
    products = parse_products(result.stdout)
    fact.set("products", products, NOT_UNDERSTOOD)
    return fact
