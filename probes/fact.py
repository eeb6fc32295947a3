"""What a probe returns: observations, never verdicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fact:
    """The observations of one check.

    ``observed`` holds the fields DESIGN.md names for the check; a field that
    could not be read is left out and its reason is put in ``unread``.
    ``skip`` says why the check does not apply to this machine at all.
    ``extra`` carries inputs for the judge that are never reported as such.
    """

    observed: dict[str, Any] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)
    skip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def miss(self, name: str, reason: str) -> "Fact":
        """Record that ``name`` could not be read, and why (first reason wins)."""
        self.unread.setdefault(name, reason)
        return self

    def set(self, name: str, value: Any, reason: str | None = None) -> "Fact":
        """Set ``name``, or record ``reason`` when ``value`` is None."""
        if value is None:
            self.miss(name, reason or f"{name} could not be read")
        else:
            self.observed[name] = value
        return self

    @property
    def reason(self) -> str | None:
        """Why fields were not read, as one short sentence (two distinct reasons at most)."""
        pieces = (piece.strip() for r in self.unread.values() for piece in r.split("; "))
        reasons = list(dict.fromkeys(p for p in pieces if p))
        return "; ".join(reasons[:2]) if reasons else None


def not_applicable(reason: str) -> Fact:
    return Fact(skip=reason)
