"""CLI command implementations: thin wrappers that parse options and call the core functions."""
