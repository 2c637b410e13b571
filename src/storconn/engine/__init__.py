"""The engine: the central inventory of storage connections, domains, LUN disks and hosts."""
