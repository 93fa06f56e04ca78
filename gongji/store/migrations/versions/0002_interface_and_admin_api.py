"""the interface hospitals and pharmacies call, and the admin API

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=50), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('target', sa.String(length=60), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('messages',
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('msgid', sa.String(length=40), nullable=False),
    sa.Column('infno', sa.String(length=6), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('fixmedins_code', 'msgid', name=op.f('pk_messages'))
    )
    op.create_table('nonces',
    sa.Column('paasid', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('paasid', 'nonce', name=op.f('pk_nonces'))
    )
    op.create_index(op.f('ix_nonces_seen_at'), 'nonces', ['seen_at'], unique=False)
    op.create_table('settings',
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_settings'))
    )
    op.create_table('users',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('operator', 'auditor', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_users')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_users_token_hash'))
    )
    op.create_table('credentials',
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('paasid', sa.String(length=40), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_credentials_fixmedins_code_institutions')),
    sa.PrimaryKeyConstraint('fixmedins_code', name=op.f('pk_credentials')),
    sa.UniqueConstraint('paasid', name=op.f('uq_credentials_paasid'))
    )
    op.create_table('sign_ins',
    sa.Column('sign_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('opter_no', sa.String(length=30), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_sign_ins_fixmedins_code_institutions')),
    sa.PrimaryKeyConstraint('sign_no', name=op.f('pk_sign_ins'))
    )
    op.create_table('visits',
    sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('ipt_otp_no', sa.String(length=30), nullable=False),
    sa.Column('insutype', sa.String(length=6), nullable=False),
    sa.Column('mdtrt_cert_type', sa.String(length=3), nullable=False),
    sa.Column('begntime', sa.DateTime(), nullable=False),
    sa.Column('med_type', sa.String(length=6), nullable=True),
    sa.Column('dise_codg', sa.String(length=30), nullable=True),
    sa.Column('dise_name', sa.String(length=300), nullable=True),
    sa.Column('doctor', sa.Text(), nullable=True),
    sa.Column('diagnoses', sa.Text(), nullable=True),
    sa.Column('registered_at', sa.DateTime(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_visits_fixmedins_code_institutions')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_visits_psn_no_persons')),
    sa.PrimaryKeyConstraint('mdtrt_id', name=op.f('pk_visits'))
    )
    op.create_index(op.f('ix_visits_psn_no'), 'visits', ['psn_no'], unique=False)
    op.create_index('ux_visits_active_otp', 'visits', ['fixmedins_code', 'ipt_otp_no'], unique=True, sqlite_where=sa.text('cancelled_at IS NULL'), postgresql_where=sa.text('cancelled_at IS NULL'))
    op.create_table('fee_details',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
    sa.Column('feedetl_sn', sa.String(length=30), nullable=False),
    sa.Column('chrg_bchno', sa.String(length=30), nullable=False),
    sa.Column('med_list_codg', sa.String(length=50), nullable=False),
    sa.Column('medins_list_codg', sa.String(length=50), nullable=True),
    sa.Column('pric', sa.BigInteger(), nullable=False),
    sa.Column('cnt', sa.BigInteger(), nullable=False),
    sa.Column('det_item_fee_sumamt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fee_ocur_time', sa.DateTime(), nullable=True),
    sa.Column('rxno', sa.String(length=40), nullable=True),
    sa.Column('rx_circ_flag', sa.String(length=1), nullable=True),
    sa.Column('setl_id', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['mdtrt_id'], ['visits.mdtrt_id'], name=op.f('fk_fee_details_mdtrt_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_details')),
    sa.UniqueConstraint('mdtrt_id', 'feedetl_sn', name=op.f('uq_fee_details_mdtrt_id_feedetl_sn'))
    )
    op.add_column('settlements', sa.Column('mdtrt_cert_type', sa.String(length=3), nullable=True))
    op.add_column('settlements', sa.Column('medins_setl_id', sa.String(length=40), nullable=True))
    op.create_index('ix_settlements_mdtrt_id', 'settlements', ['mdtrt_id'], unique=False)
    op.create_index('ux_settlements_standing_visit', 'settlements', ['mdtrt_id'], unique=True, sqlite_where=sa.text('reverses IS NULL AND reversed_by IS NULL'), postgresql_where=sa.text('reverses IS NULL AND reversed_by IS NULL'))


def downgrade() -> None:
    op.drop_index('ux_settlements_standing_visit', table_name='settlements', sqlite_where=sa.text('reverses IS NULL AND reversed_by IS NULL'), postgresql_where=sa.text('reverses IS NULL AND reversed_by IS NULL'))
    op.drop_index('ix_settlements_mdtrt_id', table_name='settlements')
    op.drop_column('settlements', 'medins_setl_id')
    op.drop_column('settlements', 'mdtrt_cert_type')
    op.drop_table('fee_details')
    op.drop_index('ux_visits_active_otp', table_name='visits', sqlite_where=sa.text('cancelled_at IS NULL'), postgresql_where=sa.text('cancelled_at IS NULL'))
    op.drop_index(op.f('ix_visits_psn_no'), table_name='visits')
    op.drop_table('visits')
    op.drop_table('sign_ins')
    op.drop_table('credentials')
    op.drop_table('users')
    op.drop_table('settings')
    op.drop_index(op.f('ix_nonces_seen_at'), table_name='nonces')
    op.drop_table('nonces')
    op.drop_table('messages')
    op.drop_table('audit_log')
