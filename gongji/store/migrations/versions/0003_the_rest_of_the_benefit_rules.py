"""the rest of the benefit rules: prescriptions, chronic diseases, cross-region care, regional catalogues

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disease_accumulators',
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('dise_codg', sa.String(length=30), nullable=False),
    sa.Column('deductible', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pool', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('covered', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_disease_accumulators_psn_no_persons')),
    sa.PrimaryKeyConstraint('psn_no', 'year', 'dise_codg', name=op.f('pk_disease_accumulators'))
    )
    op.create_table('prescriptions',
    sa.Column('rxno', sa.String(length=40), nullable=False),
    sa.Column('fixmedins_code', sa.String(length=12), nullable=False),
    sa.Column('hosp_rxno', sa.String(length=40), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('prsc_dr_name', sa.String(length=50), nullable=False),
    sa.Column('prsc_dept_name', sa.String(length=50), nullable=True),
    sa.Column('diag_code', sa.String(length=30), nullable=False),
    sa.Column('diag_name', sa.String(length=100), nullable=False),
    sa.Column('prsc_date', sa.Date(), nullable=False),
    sa.Column('valid_end', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('setl_id', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['fixmedins_code'], ['institutions.fixmedins_code'], name=op.f('fk_prescriptions_fixmedins_code_institutions')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_prescriptions_psn_no_persons')),
    sa.PrimaryKeyConstraint('rxno', name=op.f('pk_prescriptions')),
    sa.UniqueConstraint('fixmedins_code', 'hosp_rxno', name=op.f('uq_prescriptions_fixmedins_code_hosp_rxno'))
    )
    with op.batch_alter_table('prescriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescriptions_psn_no'), ['psn_no'], unique=False)

    op.create_table('qualifications',
    sa.Column('trt_dcla_detl_sn', sa.String(length=30), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('opsp_dise_code', sa.String(length=30), nullable=False),
    sa.Column('opsp_dise_name', sa.String(length=100), nullable=False),
    sa.Column('ide_fixmedins_no', sa.String(length=12), nullable=True),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_qualifications_psn_no_persons')),
    sa.PrimaryKeyConstraint('trt_dcla_detl_sn', name=op.f('pk_qualifications'))
    )
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualifications_psn_no'), ['psn_no'], unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('psn_no', sa.String(length=30), nullable=False),
    sa.Column('mdtrtarea_admvs', sa.String(length=6), nullable=False),
    sa.Column('reason', sa.String(length=10), nullable=False),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("reason IN ('resident', 'referral', 'temporary')", name=op.f('ck_registrations_reason')),
    sa.ForeignKeyConstraint(['psn_no'], ['persons.psn_no'], name=op.f('fk_registrations_psn_no_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations'))
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_psn_no'), ['psn_no'], unique=False)

    op.create_table('prescription_drugs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rxno', sa.String(length=40), nullable=False),
    sa.Column('med_list_codg', sa.String(length=50), nullable=False),
    sa.Column('drug_genname', sa.String(length=200), nullable=False),
    sa.Column('drug_cnt', sa.BigInteger(), nullable=False),
    sa.Column('medc_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rxno'], ['prescriptions.rxno'], name=op.f('fk_prescription_drugs_rxno_prescriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prescription_drugs')),
    sa.UniqueConstraint('rxno', 'med_list_codg', name=op.f('uq_prescription_drugs_rxno_med_list_codg'))
    )
    with op.batch_alter_table('prescription_drugs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescription_drugs_rxno'), ['rxno'], unique=False)

    with op.batch_alter_table('accumulators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inpatient_dedc', sa.BigInteger(), server_default=sa.text('0'), nullable=False))

    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admdvs', sa.String(length=6), server_default=sa.text("'000000'"), nullable=False))
        batch_op.add_column(sa.Column('pric_uplmt_amt', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('hi_nego_drug_flag', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('vbp_flag', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
    with op.batch_alter_table('catalogue', schema=None, recreate='always') as batch_op:
        # A region's own catalogue rows sit beside the national ones: the key becomes (admdvs, code).
        batch_op.drop_constraint('pk_catalogue', type_='primary')
        batch_op.create_primary_key('pk_catalogue', ['admdvs', 'med_list_codg'])

    with op.batch_alter_table('fee_details', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dise_codg', sa.String(length=30), nullable=True))

    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dise_codg', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('rxno', sa.String(length=40), nullable=True))

    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool_covered', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('ratio_cut', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('dise_codg', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('chronic_covered', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('chronic_dedc', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('chronic_pay', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('chronic_prop', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('rxno', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('mdtrtarea_admvs', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('registration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proc_info_zh', sa.String(length=200), nullable=True))
    # Before, every pooled settlement adjudicated its whole covered amount under ordinary pooling.
    op.execute("UPDATE settlements SET pool_covered = inscp_scp_amt WHERE pooled")


def downgrade() -> None:
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_column('proc_info_zh')
        batch_op.drop_column('registration_id')
        batch_op.drop_column('mdtrtarea_admvs')
        batch_op.drop_column('rxno')
        batch_op.drop_column('chronic_prop')
        batch_op.drop_column('chronic_pay')
        batch_op.drop_column('chronic_dedc')
        batch_op.drop_column('chronic_covered')
        batch_op.drop_column('dise_codg')
        batch_op.drop_column('ratio_cut')
        batch_op.drop_column('pool_covered')

    with op.batch_alter_table('settlement_lines', schema=None) as batch_op:
        batch_op.drop_column('rxno')
        batch_op.drop_column('dise_codg')

    with op.batch_alter_table('fee_details', schema=None) as batch_op:
        batch_op.drop_column('dise_codg')

    op.execute("DELETE FROM catalogue WHERE admdvs <> '000000'")
    with op.batch_alter_table('catalogue', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_catalogue', type_='primary')
        batch_op.create_primary_key('pk_catalogue', ['med_list_codg'])
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.drop_column('vbp_flag')
        batch_op.drop_column('hi_nego_drug_flag')
        batch_op.drop_column('pric_uplmt_amt')
        batch_op.drop_column('admdvs')

    with op.batch_alter_table('accumulators', schema=None) as batch_op:
        batch_op.drop_column('inpatient_dedc')

    with op.batch_alter_table('prescription_drugs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescription_drugs_rxno'))

    op.drop_table('prescription_drugs')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registrations_psn_no'))

    op.drop_table('registrations')
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qualifications_psn_no'))

    op.drop_table('qualifications')
    with op.batch_alter_table('prescriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescriptions_psn_no'))

    op.drop_table('prescriptions')
    op.drop_table('disease_accumulators')
