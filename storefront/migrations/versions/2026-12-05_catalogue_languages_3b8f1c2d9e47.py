"""catalogue languages: product names, descriptions, addresses, options and picture texts per language

Revision ID: 3b8f1c2d9e47
Revises: 7d16239ed8de
Create Date: 2026-12-05 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3b8f1c2d9e47"
down_revision = "7d16239ed8de"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows have no other language yet: an empty object each.
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("product_image", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_translations", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_translations", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.drop_column("label_translations")
    with op.batch_alter_table("product_image", schema=None) as batch_op:
        batch_op.drop_column("alt_translations")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("translations")
