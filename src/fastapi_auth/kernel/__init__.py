"""What every domain shares: settings, the database and its unit of work, errors, models,
shared field types, who is signed in, tokens, passwords and the gate every password check
goes through, rate limits, and the security log. Imports nothing above it
(ARCHITECTURE.md)."""
