"""smart monitoring: the knowledge base of dated restrictions

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('knowledge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('limit_value', sa.String(length=500), server_default=sa.text("''"), nullable=False),
    sa.Column('unit', sa.String(length=20), server_default=sa.text("''"), nullable=False),
    sa.Column('other_code', sa.String(length=50), server_default=sa.text("''"), nullable=False),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge')),
    sa.UniqueConstraint('rule', 'code', 'other_code', 'begndate', name=op.f('uq_knowledge_rule_code_other_code_begndate'))
    )


def downgrade() -> None:
    op.drop_table('knowledge')
