"""What every connector shares: configuration checks, secrets, per-sync counters."""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from .http import Http, MdmConfigError
from .records import MdmRecord, complete

log = logging.getLogger("checkup.server.mdm")


@dataclass
class SyncStats:
    pages: int = 0
    records: int = 0
    skipped: int = 0
    skipped_reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)   # e.g. "mobile devices skipped: no permission"

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] += 1

    def summary(self) -> str:
        text = f"{self.records} records in {self.pages} pages"
        if self.skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped_reasons.items()))
            text += f"; {self.skipped} malformed records skipped ({reasons})"
        for note in self.notes:
            text += f"; {note}"
        return text


class Connector:
    """Base class. Subclasses set ``name``, ``required`` and implement ``records()``."""

    name = "mdm"
    title = "MDM"
    required: tuple[str, ...] = ()      # config keys that must be non-empty to count as configured

    def __init__(self, config: Mapping[str, Any], *, environ: Mapping[str, str] | None = None,
                 http: Http | None = None, sleep: Callable[[float], None] | None = None):
        self.config = dict(config or {})
        self.environ = os.environ if environ is None else environ
        kwargs = {"source": self.name}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.http = http or Http(**kwargs)
        self.stats = SyncStats()

    @classmethod
    def is_configured(cls, config: Mapping[str, Any] | None) -> bool:
        config = config or {}
        return all(str(config.get(k) or "").strip() for k in cls.required)

    def missing(self) -> list[str]:
        return [k for k in self.required if not str(self.config.get(k) or "").strip()]

    def secret(self, key: str) -> str:
        """The secret held in the environment variable that config key ``key`` names."""
        var = str(self.config.get(key) or "").strip()
        if not var:
            raise MdmConfigError(f"[mdm.{self.name}] {key} is empty: name the environment variable "
                                 "that holds the secret")
        value = self.environ.get(var)
        if not value:
            raise MdmConfigError(f"the environment variable {var} (named by [mdm.{self.name}] {key}) "
                                 "is not set")
        return value

    def records(self) -> Iterator[MdmRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mapped(self, items: Any, mapper: Callable[[dict], MdmRecord | None]) -> Iterator[MdmRecord]:
        """Map one page of raw items, skipping (and counting) the malformed ones."""
        if not isinstance(items, list):
            self.stats.skip("pages without a list of results")
            return
        for item in items:
            if not isinstance(item, dict):
                self.stats.skip("non-object records")
                continue
            try:
                rec = mapper(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.stats.skip(f"unreadable records ({type(exc).__name__})")
                continue
            if rec is None:
                continue
            if not rec.source_id:
                self.stats.skip("records without an id")
                continue
            self.stats.records += 1
            yield complete(rec)


def sub(d: Any, *path: str) -> Any:
    """d[path[0]][path[1]]... or None when any step is missing or not an object."""
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d
