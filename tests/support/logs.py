"""What the shop logged while a test ran."""

from __future__ import annotations

import logging


def errors_in(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records if record.levelno >= logging.ERROR]
