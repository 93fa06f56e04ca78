"""initial schema

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('admdvs', sa.String(length=6), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('run_at', sa.DateTime(), nullable=False),
    sa.Column('members', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('amount', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_runs')),
    sa.UniqueConstraint('kind', 'admdvs', 'period', name=op.f('uq_batch_runs_kind_admdvs_period'))
    )
    op.create_table('catalogue',
    sa.Column('med_list_codg', sa.String(length=50), nullable=False),
    sa.Column('med_list_name', sa.String(length=200), nullable=False),
    sa.Column('list_type', sa.String(length=10), nullable=False),
    sa.Column('chrgitm_lv', sa.String(length=2), nullable=False),
    sa.Column('selfpay_prop', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('pay_std', sa.BigInteger(), nullable=True),
    sa.Column('lmt_gend', sa.String(length=1), nullable=True),
    sa.Column('lmt_age_min', sa.Integer(), nullable=True),
    sa.Column('lmt_age_max', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('med_list_codg', name=op.f('pk_catalogue'))
    )
    op.create_table('institutions',
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('fixmedins_name', sa.String(length=200), nullable=False),
    sa.Column('fixmedins_type', sa.String(length=1), nullable=False),
    sa.Column('hosp_lv', sa.Integer(), nullable=True),
    sa.Column('admdvs', sa.String(length=6), nullable=False),
    sa.Column('designated', sa.Boolean(), nullable=False),
    sa.Column('outpatient_pooled', sa.Boolean(), nullable=False),
    sa.CheckConstraint("fixmedins_type IN ('1', '2')", name=op.f('ck_institutions_type')),
    sa.PrimaryKeyConstraint('fixmedins_code', name=op.f('pk_institutions'))
    )
    op.create_table('ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fund', sa.String(length=10), nullable=False),
    sa.Column('holder', sa.String(length=30), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=True),
    sa.Column('setl_id', sa.String(length=30), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=True),
    sa.CheckConstraint("fund IN ('account', 'pool')", name=op.f('ck_ledger_fund')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger'))
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_fund_holder', ['fund', 'holder'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_setl_id'), ['setl_id'], unique=False)

    op.create_table('persons',
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('psn_name', sa.String(length=50), nullable=False),
    sa.Column('certno', sa.String(length=18), nullable=False),
    sa.Column('gend', sa.String(length=1), nullable=False),
    sa.Column('brdy', sa.Date(), nullable=False),
    sa.Column('insutype', sa.String(length=6), nullable=False),
    sa.Column('psn_type', sa.String(length=6), nullable=False),
    sa.Column('retire_date', sa.Date(), nullable=True),
    sa.Column('insuplc_admdvs', sa.String(length=6), nullable=False),
    sa.Column('emp_name', sa.String(length=200), nullable=False),
    sa.Column('crt_cont_base', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pension', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('psn_insu_stas', sa.String(length=1), nullable=False),
    sa.Column('psn_insu_date', sa.Date(), nullable=False),
    sa.Column('prev_year_credits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('stas_reason', sa.String(length=20), nullable=True),
    sa.Column('stas_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('psn_no', name=op.f('pk_persons')),
    sa.UniqueConstraint('certno', name=op.f('uq_persons_certno'))
    )
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_insuplc_admdvs'), ['insuplc_admdvs'], unique=False)

    op.create_table('pool_slots',
    sa.Column('admdvs', sa.String(length=6), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_pool_slots_balance_not_negative')),
    sa.PrimaryKeyConstraint('admdvs', 'slot', name=op.f('pk_pool_slots'))
    )
    op.create_table('accounts',
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_accounts_balance_not_negative')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_accounts_psn_no_persons')),
    sa.PrimaryKeyConstraint('psn_no', name=op.f('pk_accounts'))
    )
    op.create_table('accumulators',
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('deductible', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pool', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('covered', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('inpatient', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_accumulators_psn_no_persons')),
    sa.PrimaryKeyConstraint('psn_no', 'year', name=op.f('pk_accumulators'))
    )
    op.create_table('authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_psn_no', sa.String(length=30), nullable=False),
    sa.Column('user_psn_no', sa.String(length=30), nullable=False),
    sa.Column('relation', sa.String(length=10), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['owner_psn_no'], ['persons.psn_no'], name=op.f('fk_authorizations_owner_psn_no_persons')),
    sa.ForeignKeyConstraint(['user_psn_no'], ['persons.psn_no'], name=op.f('fk_authorizations_user_psn_no_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorizations'))
    )
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorizations_user_psn_no'), ['user_psn_no'], unique=False)
        batch_op.create_index('ux_authorizations_active', ['owner_psn_no', 'user_psn_no'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('relations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('relative_certno', sa.String(length=18), nullable=False),
    sa.Column('relative_name', sa.String(length=50), nullable=False),
    sa.Column('relation', sa.String(length=10), nullable=False),
    sa.CheckConstraint("relation IN ('spouse', 'parent', 'child')", name=op.f('ck_relations_relation')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_relations_psn_no_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relations')),
    sa.UniqueConstraint('psn_no', 'relative_certno', name=op.f('uq_relations_psn_no_relative_certno'))
    )
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relations_relative_certno'), ['relative_certno'], unique=False)

    op.create_table('settlements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('setl_id', sa.String(length=30), nullable=False),
    sa.Column('mdtrt_id', sa.String(length=30), nullable=False),
    sa.Column('idem_key', sa.String(length=100), nullable=True),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('prescriber_code', sa.String(length=12), nullable=True),
    sa.Column('setl_date', sa.Date(), nullable=False),
    sa.Column('setl_time', sa.DateTime(), nullable=False),
    sa.Column('med_type', sa.String(length=6), nullable=False),
    sa.Column('insuplc_admdvs', sa.String(length=6), nullable=False),
    sa.Column('member_type', sa.String(length=10), nullable=False),
    sa.Column('age', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('setting', sa.String(length=10), nullable=False),
    sa.Column('pooled', sa.Boolean(), nullable=False),
    sa.Column('no_pool_reason', sa.String(length=200), nullable=True),
    sa.Column('acct_used_flag', sa.Boolean(), nullable=False),
    sa.Column('medfee_sumamt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fulamt_ownpay_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('overlmt_selfpay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('preselfpay_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('inscp_scp_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('act_pay_dedc', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('hifp_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pool_prop', sa.Integer(), nullable=False),
    sa.Column('over_cap_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('inpatient_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('psn_part_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('acct_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('acct_mulaid_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('psn_cash_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('balc', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('reverses', sa.String(length=30), nullable=True),
    sa.Column('reversed_by', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_settlements_fixmedins_code_institutions')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_settlements_psn_no_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('idem_key', name=op.f('uq_settlements_idem_key')),
    sa.UniqueConstraint('setl_id', name=op.f('uq_settlements_setl_id'))
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_fixmedins_code'), ['fixmedins_code'], unique=False)
        batch_op.create_index('ix_settlements_psn_year', ['psn_no', 'setl_date'], unique=False)

    op.create_table('stays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('admitted_on', sa.Date(), nullable=False),
    sa.Column('discharged_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_stays_fixmedins_code_institutions')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_stays_psn_no_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stays'))
    )
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stays_psn_no'), ['psn_no'], unique=False)

    op.create_table('settlement_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('setl_id', sa.String(length=30), nullable=False),
    sa.Column('feedetl_sn', sa.Integer(), nullable=False),
    sa.Column('med_list_codg', sa.String(length=50), nullable=False),
    sa.Column('pric', sa.BigInteger(), nullable=False),
    sa.Column('cnt', sa.BigInteger(), nullable=False),
    sa.Column('det_item_fee_sumamt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('fulamt_ownpay_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('overlmt_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('preselfpay_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('inscp_scp_amt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('memo', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['setl_id'], ['settlements.setl_id'], name=op.f('fk_settlement_lines_setl_id_settlements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_lines'))
    )
    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_lines_setl_id'), ['setl_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_lines_setl_id'))

    op.drop_table('settlement_lines')
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stays_psn_no'))

    op.drop_table('stays')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index('ix_settlements_psn_year')
        batch_op.drop_index(batch_op.f('ix_settlements_fixmedins_code'))

    op.drop_table('settlements')
    with op.batch_alter_table('relations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relations_relative_certno'))

    op.drop_table('relations')
    with op.batch_alter_table('authorizations', schema=None) as batch_op:
        batch_op.drop_index('ux_authorizations_active', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_authorizations_user_psn_no'))

    op.drop_table('authorizations')
    op.drop_table('accumulators')
    op.drop_table('accounts')
    op.drop_table('pool_slots')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_insuplc_admdvs'))

    op.drop_table('persons')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_setl_id'))
        batch_op.drop_index('ix_ledger_fund_holder')

    op.drop_table('ledger')
    op.drop_table('institutions')
    op.drop_table('catalogue')
    op.drop_table('batch_runs')
