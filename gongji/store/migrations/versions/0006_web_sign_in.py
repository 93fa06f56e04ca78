"""web sign-in: members' passwords and activation codes, staff passwords

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('member_logins',
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('code_hash', sa.String(length=200), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(), nullable=True),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_member_logins_psn_no_persons')),
    sa.PrimaryKeyConstraint('psn_no', name=op.f('pk_member_logins'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_hash')

    op.drop_table('member_logins')
