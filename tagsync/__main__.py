"""Allow ``python -m tagsync``."""

from tagsync.cli import main

main()
