"""When Microsoft published a version: the date in its file name, else when it was accepted.

Microsoft names every weekly file ``ServiceTags_<Cloud>_YYYYMMDD.json`` (always a Monday) and says
new ranges are not used for at least one week after publication, so the name's date is what
deploy-by dates count from. A file fetched under another name (a mirror's ``..._Latest.json``, a
local copy) has no such date; the acceptance time stands in for it, marked as such, so reports
never present a guess as Microsoft's date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "DEPLOY_AFTER",
    "Publication",
    "deploy_by",
    "publication_date",
    "publication_of",
]

# "New ranges appearing in the file will not be used in Azure for at least one week."
# (Microsoft's download page for the Service Tags files, "Details".)
DEPLOY_AFTER = timedelta(days=7)

# The cloud part is letters only (Public, AzureGovernment, China, AzureChinaCloud...); the date
# must be followed by a non-digit so 'ServiceTags_Public_202507281.json' is not read as a date.
_NAME_DATE = re.compile(r"ServiceTags_[A-Za-z]+_(\d{4})(\d{2})(\d{2})(?!\d)")

FROM_FILE_NAME = "file-name"
FROM_ACCEPTANCE = "accepted"


@dataclass(frozen=True, slots=True)
class Publication:
    """A version's publication date and how it is known (``file-name`` or ``accepted``)."""

    date: dt.date
    basis: str

    @property
    def deploy_by(self) -> dt.date:
        return deploy_by(self.date)

    @property
    def is_from_file_name(self) -> bool:
        return self.basis == FROM_FILE_NAME


def publication_date(source: str) -> date | None:
    """The date in the last ``ServiceTags_<Cloud>_YYYYMMDD`` of a URL or path, if any and valid."""
    found = None
    for match in _NAME_DATE.finditer(source):
        found = match
    if found is None:
        return None
    year, month, day = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:  # 20251332: not a date, so not a publication date either
        return None


def publication_of(source: str, accepted_at: str) -> Publication:
    """The publication of a version from ``source``, or its ISO ``accepted_at`` day, marked."""
    named = publication_date(source)
    if named is not None:
        return Publication(named, FROM_FILE_NAME)
    accepted = datetime.fromisoformat(accepted_at.replace("Z", "+00:00"))
    return Publication(accepted.date(), FROM_ACCEPTANCE)


def deploy_by(published: date) -> date:
    """The first day Microsoft may use ranges new in a version published on ``published``."""
    return published + DEPLOY_AFTER
