"""tagsync: keep firewall rules in step with Microsoft's published Azure service tag IP ranges."""

__version__ = "0.1.0"
