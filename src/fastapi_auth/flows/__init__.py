"""The flows that orchestrate several domains for one route: sign-up, verification, login
and recovery (`/auth/*`). Above the domains, below `main.py` (ARCHITECTURE.md)."""
