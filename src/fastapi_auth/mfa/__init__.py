"""Second factors: authenticator apps (TOTP), recovery codes and passkeys, and the
login's second step."""
