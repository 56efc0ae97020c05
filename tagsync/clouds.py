"""The Azure clouds tagsync knows: name, download page id, the ``cloud`` value in their files."""

from __future__ import annotations

from dataclasses import dataclass

from tagsync.errors import ConfigError

__all__ = ["CLOUDS", "Cloud", "cloud_for_file", "get_cloud"]

DOWNLOAD_PAGE_TEMPLATE = "https://www.microsoft.com/en-us/download/details.aspx?id={page_id}"


@dataclass(frozen=True, slots=True)
class Cloud:
    """One Azure cloud whose service tags Microsoft publishes as a weekly JSON file."""

    name: str
    page_id: int
    file_cloud: str  # the top-level "cloud" value inside the JSON
    file_prefix: str  # the published file name is f"{file_prefix}_YYYYMMDD.json"

    @property
    def page_url(self) -> str:
        return DOWNLOAD_PAGE_TEMPLATE.format(page_id=self.page_id)


CLOUDS: dict[str, Cloud] = {
    "public": Cloud("public", 56519, "Public", "ServiceTags_Public"),
    "usgov": Cloud("usgov", 57063, "AzureGovernment", "ServiceTags_AzureGovernment"),
    "china": Cloud("china", 57062, "China", "ServiceTags_China"),
}


def get_cloud(name: str) -> Cloud:
    """Return the cloud called ``name`` (case-insensitive) or raise ConfigError."""
    try:
        return CLOUDS[name.lower()]
    except KeyError:
        choices = ", ".join(CLOUDS)
        raise ConfigError(f"unknown cloud {name!r}: choose one of {choices}") from None


def cloud_for_file(file_cloud: str) -> Cloud | None:
    """The cloud whose files carry ``"cloud": file_cloud`` (any case), or None."""
    folded = file_cloud.lower()
    return next((c for c in CLOUDS.values() if c.file_cloud.lower() == folded), None)
