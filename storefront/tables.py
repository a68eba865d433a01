"""The Core table behind an ORM model, typed as a `Table` (SQLAlchemy types `__table__` loosely)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.params import PathParameter
from sqlalchemy import Table

# A row id in an address: a number the database can hold (a 64-bit integer), else a 400 page
# before any query is made.
RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


def table_of(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
