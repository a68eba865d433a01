"""The Core table behind an ORM model, typed as a `Table` (SQLAlchemy types `__table__` loosely)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table


def table_of(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
