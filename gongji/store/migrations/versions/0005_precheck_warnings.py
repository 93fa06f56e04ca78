"""pre-check warnings of 3101/3102 and their dispositions (3103)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('precheck_warnings',
    sa.Column('jr_id', sa.String(length=50), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('msgid', sa.String(length=30), nullable=False),
    sa.Column('infno', sa.String(length=4), nullable=False),
    sa.Column('trig_scen', sa.String(length=1), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('mdtrt_id', sa.String(length=50), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('cls', sa.String(length=10), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.Column('dspo_way', sa.String(length=1), nullable=True),
    sa.Column('dspo_way_rea', sa.String(length=500), nullable=True),
    sa.Column('warn_type', sa.String(length=1), nullable=True),
    sa.Column('disposed_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("cls IN ('明确违规', '可疑')", name=op.f('ck_precheck_warnings_cls')),
    sa.CheckConstraint("dspo_way IS NULL OR dspo_way IN ('1', '2')", name=op.f('ck_precheck_warnings_dspo_way')),
    sa.CheckConstraint("infno IN ('3101', '3102')", name=op.f('ck_precheck_warnings_infno')),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_precheck_warnings_fixmedins_code_institutions')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_precheck_warnings_psn_no_persons')),
    sa.PrimaryKeyConstraint('jr_id', name=op.f('pk_precheck_warnings'))
    )
    with op.batch_alter_table('precheck_warnings', schema=None) as batch_op:
        batch_op.create_index('ix_precheck_warnings_fixmedins_code_checked_at', ['fixmedins_code', 'checked_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('precheck_warnings', schema=None) as batch_op:
        batch_op.drop_index('ix_precheck_warnings_fixmedins_code_checked_at')

    op.drop_table('precheck_warnings')
