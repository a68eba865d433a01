"""Keeping secrets out of log lines: Stripe appends the client secret to the return address, and
Stripe.js sends it in a query, so access logs would otherwise record it (docs/security.md, "Client secrets")."""

from __future__ import annotations

import logging
import re

_SECRET_IN_QUERY = re.compile(r"((?:payment_intent_)?client_secret=)[^&\s\"']+")


def redact(text: str) -> str:
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_redaction() -> None:
    """Attach to the loggers that print request addresses (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "httpx", "storefront", "litestar"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
