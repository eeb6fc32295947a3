"""MDM connectors: each vendor's inventory mapped to one record shape (records.MdmRecord)."""
from __future__ import annotations

from .base import Connector, SyncStats
from .google import GoogleConnector
from .http import MdmConfigError, MdmError
from .intune import IntuneConnector
from .ivanti import IvantiConnector
from .jamf import JamfConnector
from .records import MdmRecord

CONNECTORS: dict[str, type[Connector]] = {
    "jamf": JamfConnector,
    "intune": IntuneConnector,
    "google": GoogleConnector,
    "ivanti": IvantiConnector,
}

__all__ = ["CONNECTORS", "Connector", "SyncStats", "MdmRecord", "MdmError", "MdmConfigError",
           "JamfConnector", "IntuneConnector", "GoogleConnector", "IvantiConnector"]
