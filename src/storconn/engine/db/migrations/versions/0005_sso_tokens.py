"""SSO tokens in the database (by their SHA-256), shared by every engine process.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("idle_timeout", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sso_tokens")),
    )
    op.create_index(op.f("ix_sso_tokens_user_id"), "sso_tokens", ["user_id"])
    op.create_index(op.f("ix_sso_tokens_expires_at"), "sso_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sso_tokens_expires_at"), table_name="sso_tokens")
    op.drop_index(op.f("ix_sso_tokens_user_id"), table_name="sso_tokens")
    op.drop_table("sso_tokens")
