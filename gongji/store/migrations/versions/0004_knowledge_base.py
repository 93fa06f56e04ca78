"""smart monitoring: the knowledge base of dated restrictions, the review queue and credit records

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
    op.create_table('monitor_hits',
    sa.Column('hit_id', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('cls', sa.String(length=10), nullable=False),
    sa.Column('setl_id', sa.String(length=30), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('moment', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=10), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('reviewer', sa.String(length=50), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('found_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('clawed_back', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint("cls IN ('明确违规', '可疑')", name=op.f('ck_monitor_hits_cls')),
    sa.CheckConstraint("moment IN ('pre', 'post')", name=op.f('ck_monitor_hits_moment')),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'dismissed')", name=op.f('ck_monitor_hits_status')),
    sa.ForeignKeyConstraint(['setl_id'], ['settlements.setl_id'], name=op.f('fk_monitor_hits_setl_id_settlements')),
    sa.PrimaryKeyConstraint('hit_id', name=op.f('pk_monitor_hits'))
    )
    with op.batch_alter_table('monitor_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_hits_setl_id'), ['setl_id'], unique=False)
        batch_op.create_index('ix_monitor_hits_status_found_at', ['status', 'found_at'], unique=False)

    op.create_table('credit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_kind', sa.String(length=12), nullable=False),
    sa.Column('subject', sa.String(length=30), nullable=False),
    sa.Column('hit_id', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("subject_kind IN ('institution', 'member')", name=op.f('ck_credit_events_subject_kind')),
    sa.ForeignKeyConstraint(['hit_id'], ['monitor_hits.hit_id'], name=op.f('fk_credit_events_hit_id_monitor_hits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_events'))
    )
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_events_hit_id'), ['hit_id'], unique=False)
        batch_op.create_index('ix_credit_events_subject_kind_subject', ['subject_kind', 'subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_events_subject_kind_subject')
        batch_op.drop_index(batch_op.f('ix_credit_events_hit_id'))

    op.drop_table('credit_events')
    with op.batch_alter_table('monitor_hits', schema=None) as batch_op:
        batch_op.drop_index('ix_monitor_hits_status_found_at')
        batch_op.drop_index(batch_op.f('ix_monitor_hits_setl_id'))

    op.drop_table('monitor_hits')
    op.drop_table('knowledge')
