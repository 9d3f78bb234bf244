"""A notes API that mounts fastapi-auth."""
