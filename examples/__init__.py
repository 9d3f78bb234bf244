"""Examples of hosts and consumers of fastapi-auth (not part of the package)."""
