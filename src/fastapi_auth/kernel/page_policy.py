"""The Content-Security-Policy of the HTML pages emailed links open.

Strict: scripts, styles, images and form posts of this origin only, no inline script,
no frames. Branding may add exactly two sources (`Branding.page_csp`): the hash of the
one `<style>` element that carries the colour, and the logo's origin for images.
"""

from __future__ import annotations

from collections.abc import Mapping

PAGE_CSP_DIRECTIVES: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "connect-src": ("'self'",),
    "img-src": ("'self'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}


def page_csp(extra: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """The pages' policy, with `extra` sources added to the directives it names (the
    branding's style hash and logo origin): a source can only be added, never a directive
    loosened otherwise."""
    extra = extra or {}
    unknown = set(extra) - set(PAGE_CSP_DIRECTIVES)
    if unknown:
        raise ValueError(f"not a directive of the pages' policy: {sorted(unknown)}")
    return "; ".join(
        " ".join((name, *sources, *extra.get(name, ())))
        for name, sources in PAGE_CSP_DIRECTIVES.items()
    )


PAGE_CSP = page_csp()
