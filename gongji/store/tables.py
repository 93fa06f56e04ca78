"""The tables. Amounts are integer fen (BigInteger), ratios basis points; names follow the national platform
where the domain has its own word (psn_no, certno, fixmedins_code, hifp_pay, acct_pay, ...)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


BigId = BigInteger().with_variant(Integer, "sqlite")
"""A 64-bit key on PostgreSQL; on SQLite an INTEGER PRIMARY KEY, which is already 64-bit and the rowid."""


def fen(name: str, **kw) -> Column:
    return Column(name, BigInteger, nullable=False, server_default=text("0"), **kw)


persons = Table(
    "persons", metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("psn_name", String(50), nullable=False),
    Column("certno", String(18), nullable=False, unique=True),
    Column("gend", String(1), nullable=False),
    Column("brdy", Date, nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("psn_type", String(6), nullable=False),
    Column("retire_date", Date),
    Column("insuplc_admdvs", String(6), nullable=False, index=True),
    Column("emp_name", String(200), nullable=False),
    fen("crt_cont_base"),
    fen("pension"),
    Column("psn_insu_stas", String(1), nullable=False),
    Column("psn_insu_date", Date, nullable=False),
    fen("prev_year_credits"),
    Column("stas_reason", String(20)),
    Column("stas_date", Date),
)

relations = Table(
    "relations", metadata,
    Column("id", Integer, primary_key=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False),
    Column("relative_certno", String(18), nullable=False, index=True),
    Column("relative_name", String(50), nullable=False),
    Column("relation", String(10), nullable=False),
    UniqueConstraint("psn_no", "relative_certno"),
    CheckConstraint("relation IN ('spouse', 'parent', 'child')", name="relation"),
)

authorizations = Table(
    "authorizations", metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_psn_no", ForeignKey("persons.psn_no"), nullable=False),
    Column("user_psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("relation", String(10), nullable=False),
    Column("granted_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Index("ux_authorizations_active", "owner_psn_no", "user_psn_no", unique=True,
          sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
)

institutions = Table(
    "institutions", metadata,
    Column("fixmedins_code", String(12), primary_key=True),
    Column("fixmedins_name", String(200), nullable=False),
    Column("fixmedins_type", String(1), nullable=False),
    Column("hosp_lv", Integer),
    Column("admdvs", String(6), nullable=False),
    Column("designated", Boolean, nullable=False),
    Column("outpatient_pooled", Boolean, nullable=False),
    CheckConstraint("fixmedins_type IN ('1', '2')", name="type"),
)

NATIONAL = "000000"
"""The admdvs of the national catalogue, which applies wherever a region has no row of its own."""

catalogue = Table(
    "catalogue", metadata,
    Column("admdvs", String(6), primary_key=True, server_default=text(f"'{NATIONAL}'")),
    Column("med_list_codg", String(50), primary_key=True),
    Column("med_list_name", String(200), nullable=False),
    Column("list_type", String(10), nullable=False),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("selfpay_prop", Integer, nullable=False, server_default=text("0")),
    Column("pay_std", BigInteger),
    Column("pric_uplmt_amt", BigInteger),
    Column("hi_nego_drug_flag", Boolean, nullable=False, server_default=text("false")),
    Column("vbp_flag", Boolean, nullable=False, server_default=text("false")),
    Column("lmt_gend", String(1)),
    Column("lmt_age_min", Integer),
    Column("lmt_age_max", Integer),
)
"""医保目录 by region (就医地目录): a row of the treating region, its city or province replaces the national one.
pay_std is the payment standard (医保支付标准) of negotiated (hi_nego_drug_flag) and centrally procured
(vbp_flag, 集中带量采购) drugs; pric_uplmt_amt the platform's listing price (挂网价), the most any other item
is paid at. Prices are unit prices in 1/10000 yuan."""

accounts = Table(
    "accounts", metadata,
    Column("psn_no", ForeignKey("persons.psn_no"), primary_key=True),
    fen("balance"),
    Column("closed_on", Date),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
)

POOL_SLOTS = 8
"""A region's pooled fund is held in this many rows, so that concurrent settlements do not queue on one."""

pool_slots = Table(
    "pool_slots", metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("slot", Integer, primary_key=True),
    fen("balance"),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
)

batch_runs = Table(
    "batch_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("admdvs", String(6), nullable=False),
    Column("period", Date, nullable=False),
    Column("run_at", DateTime, nullable=False),
    Column("members", Integer, nullable=False, server_default=text("0")),
    fen("amount"),
    UniqueConstraint("kind", "admdvs", "period"),
)

settlements = Table(
    "settlements", metadata,
    Column("id", BigId, primary_key=True),
    Column("setl_id", String(30), nullable=False, unique=True),
    Column("mdtrt_id", String(30), nullable=False),
    Column("idem_key", String(100), unique=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False, index=True),
    Column("prescriber_code", String(12)),
    Column("setl_date", Date, nullable=False),
    Column("setl_time", DateTime, nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("member_type", String(10), nullable=False),
    Column("age", Integer, nullable=False),
    Column("level", Integer),
    Column("setting", String(10), nullable=False),
    Column("pooled", Boolean, nullable=False),
    Column("no_pool_reason", String(200)),
    Column("proc_info_zh", String(200)),
    Column("acct_used_flag", Boolean, nullable=False),
    fen("medfee_sumamt"), fen("fulamt_ownpay_amt"), fen("overlmt_selfpay"), fen("preselfpay_amt"),
    fen("inscp_scp_amt"), fen("act_pay_dedc"), fen("hifp_pay"), Column("pool_prop", Integer, nullable=False),
    fen("over_cap_amt"), fen("inpatient_pay"), fen("psn_part_amt"), fen("acct_pay"), fen("acct_mulaid_pay"),
    fen("psn_cash_pay"), fen("balc"),
    Column("reverses", String(30)),
    Column("reversed_by", String(30)),
    Column("mdtrt_cert_type", String(3)),
    Column("medins_setl_id", String(40)),
    fen("pool_covered"),
    Column("ratio_cut", Integer, nullable=False, server_default=text("0")),
    Column("dise_codg", String(30)),
    fen("chronic_covered"), fen("chronic_dedc"), fen("chronic_pay"),
    Column("chronic_prop", Integer, nullable=False, server_default=text("0")),
    Column("rxno", String(40)),
    Column("mdtrtarea_admvs", String(6)),
    Column("registration_id", Integer),
    Index("ix_settlements_psn_year", "psn_no", "setl_date"),
    Index("ix_settlements_mdtrt_id", "mdtrt_id"),
    Index("ux_settlements_standing_visit", "mdtrt_id", unique=True,
          sqlite_where=text("reverses IS NULL AND reversed_by IS NULL"),
          postgresql_where=text("reverses IS NULL AND reversed_by IS NULL")),
)

settlement_lines = Table(
    "settlement_lines", metadata,
    Column("id", BigId, primary_key=True),
    Column("setl_id", ForeignKey("settlements.setl_id"), nullable=False, index=True),
    Column("feedetl_sn", Integer, nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("pric", BigInteger, nullable=False),
    Column("cnt", BigInteger, nullable=False),
    fen("det_item_fee_sumamt"), fen("fulamt_ownpay_amt"), fen("overlmt_amt"), fen("preselfpay_amt"),
    fen("inscp_scp_amt"),
    Column("memo", String(200)),
    Column("dise_codg", String(30)),
    Column("rxno", String(40)),
)

accumulators = Table(
    "accumulators", metadata,
    Column("psn_no", ForeignKey("persons.psn_no"), primary_key=True),
    Column("year", Integer, primary_key=True),
    fen("deductible"), fen("pool"), fen("covered"), fen("inpatient"), fen("inpatient_dedc"),
)

disease_accumulators = Table(
    "disease_accumulators", metadata,
    Column("psn_no", ForeignKey("persons.psn_no"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("dise_codg", String(30), primary_key=True),
    fen("deductible"), fen("pool"), fen("covered"),
)
"""The year's accumulators of one chronic or special disease (门诊慢特病), apart from ordinary pooling's."""

stays = Table(
    "stays", metadata,
    Column("id", Integer, primary_key=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False),
    Column("admitted_on", Date, nullable=False),
    Column("discharged_on", Date),
)

ledger = Table(
    "ledger", metadata,
    Column("id", BigId, primary_key=True),
    Column("fund", String(10), nullable=False),
    Column("holder", String(30), nullable=False),
    Column("slot", Integer),
    Column("kind", String(30), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("psn_no", String(30)),
    Column("setl_id", String(30), index=True),
    Column("run_id", Integer),
    Column("memo", Text),
    CheckConstraint("fund IN ('account', 'pool')", name="fund"),
    Index("ix_ledger_fund_holder", "fund", "holder"),
)

# The interface hospitals and pharmacies call (issue 5) and the bureau's admin API.

credentials = Table(
    "credentials", metadata,
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), primary_key=True),
    Column("paasid", String(40), nullable=False, unique=True),
    Column("secret", String(64), nullable=False),
    Column("issued_at", DateTime, nullable=False),
)
"""An institution's access key (x-tif-paasid) and secret. The secret is kept as issued: the gateway signature
(SHA-256 of timestamp + secret + nonce + timestamp) can only be checked by recomputing it."""

nonces = Table(
    "nonces", metadata,
    Column("paasid", String(40), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", DateTime, nullable=False, index=True),
)
"""x-tif-nonce values seen within the timestamp window: one seen before is a replay."""

messages = Table(
    "messages", metadata,
    Column("fixmedins_code", String(12), primary_key=True),
    Column("msgid", String(40), primary_key=True),
    Column("infno", String(6), nullable=False),
    Column("response", Text, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)
"""The answer to every message that changed something, so that the same msgid gets the same answer again."""

sign_ins = Table(
    "sign_ins", metadata,
    Column("sign_no", String(30), primary_key=True),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False),
    Column("opter_no", String(30), nullable=False),
    Column("signed_at", DateTime, nullable=False),
)

visits = Table(
    "visits", metadata,
    Column("mdtrt_id", String(30), primary_key=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False),
    Column("ipt_otp_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("mdtrt_cert_type", String(3), nullable=False),
    Column("begntime", DateTime, nullable=False),
    Column("med_type", String(6)),
    Column("dise_codg", String(30)),
    Column("dise_name", String(300)),
    Column("doctor", Text),
    Column("diagnoses", Text),
    Column("registered_at", DateTime, nullable=False),
    Column("cancelled_at", DateTime),
    Index("ux_visits_active_otp", "fixmedins_code", "ipt_otp_no", unique=True,
          sqlite_where=text("cancelled_at IS NULL"), postgresql_where=text("cancelled_at IS NULL")),
)
"""An outpatient visit (就诊) a hospital registered with 2201; 2203 adds med_type and diagnoses."""

fee_details = Table(
    "fee_details", metadata,
    Column("id", BigId, primary_key=True),
    Column("mdtrt_id", ForeignKey("visits.mdtrt_id"), nullable=False),
    Column("feedetl_sn", String(30), nullable=False),
    Column("chrg_bchno", String(30), nullable=False),
    Column("med_list_codg", String(50), nullable=False),
    Column("medins_list_codg", String(50)),
    Column("pric", BigInteger, nullable=False),
    Column("cnt", BigInteger, nullable=False),
    fen("det_item_fee_sumamt"),
    Column("fee_ocur_time", DateTime),
    Column("rxno", String(40)),
    Column("rx_circ_flag", String(1)),
    Column("dise_codg", String(30)),
    Column("setl_id", String(30)),
    UniqueConstraint("mdtrt_id", "feedetl_sn"),
)
"""Fee lines uploaded with 2204, settled by 2207 (setl_id), removed by 2205 while unsettled."""

users = Table(
    "users", metadata,
    Column("name", String(50), primary_key=True),
    Column("role", String(10), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("password_hash", String(200)),
    CheckConstraint("role IN ('operator', 'auditor', 'admin')", name="role"),
)
"""Bureau staff of the admin API; only a SHA-256 of the bearer token is kept, and an argon2 hash of the password
of the web pages (`gongji user password`)."""

member_logins = Table(
    "member_logins", metadata,
    Column("psn_no", ForeignKey("persons.psn_no"), primary_key=True),
    Column("password_hash", String(200)),
    Column("code_hash", String(200)),
    Column("code_expires_at", DateTime),
    Column("invited_at", DateTime, nullable=False),
    Column("activated_at", DateTime),
)
"""A member's sign-in to the web pages: argon2 hashes of the password and of the one-time activation code staff
gave (`gongji member invite`), which sets the first password (or a new one) once, before it expires."""

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    Column("target", String(60), nullable=False),
    Column("before", Text),
    Column("after", Text),
)
"""Every change made through the admin API: who, when, what, before and after. Append-only."""

settings = Table(
    "settings", metadata,
    Column("name", String(30), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Server-side values made once per database (the e-voucher signing key)."""

# The rest of the benefit rules (issue 6).

prescriptions = Table(
    "prescriptions", metadata,
    Column("rxno", String(40), primary_key=True),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False),
    Column("hosp_rxno", String(40), nullable=False),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("prsc_dr_name", String(50), nullable=False),
    Column("prsc_dept_name", String(50)),
    Column("diag_code", String(30), nullable=False),
    Column("diag_name", String(100), nullable=False),
    Column("prsc_date", Date, nullable=False),
    Column("valid_end", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("setl_id", String(30)),
    UniqueConstraint("fixmedins_code", "hosp_rxno"),
)
"""外配处方: an electronic prescription a designated medical institution wrote (hi_rxno = rxno), valid to
valid_end, used once: setl_id is the pharmacy settlement that used it, cleared again by its reversal."""

prescription_drugs = Table(
    "prescription_drugs", metadata,
    Column("id", Integer, primary_key=True),
    Column("rxno", ForeignKey("prescriptions.rxno"), nullable=False, index=True),
    Column("med_list_codg", String(50), nullable=False),
    Column("drug_genname", String(200), nullable=False),
    Column("drug_cnt", BigInteger, nullable=False),
    Column("medc_days", Integer, nullable=False),
    UniqueConstraint("rxno", "med_list_codg"),
)
"""A prescription's drugs: quantity in 1/10000 and days of supply (用药天数)."""

qualifications = Table(
    "qualifications", metadata,
    Column("trt_dcla_detl_sn", String(30), primary_key=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("opsp_dise_code", String(30), nullable=False),
    Column("opsp_dise_name", String(100), nullable=False),
    Column("ide_fixmedins_no", String(12)),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("recorded_at", DateTime, nullable=False),
    Column("cancelled_at", DateTime),
    Column("memo", String(200)),
)
"""门诊慢特病备案: a member qualified for one chronic or special disease from begndate to enddate (2503/2504)."""

registrations = Table(
    "registrations", metadata,
    Column("id", Integer, primary_key=True),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False, index=True),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("reason", String(10), nullable=False),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("recorded_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    CheckConstraint("reason IN ('resident', 'referral', 'temporary')", name="reason"),
)
"""异地就医备案: a member registered for care in another region (a city, or a whole province when the code
ends in 0000) from begndate to enddate, with the reason (长期居住, 转诊转院, 临时外出)."""

# Smart monitoring (issue 8).

knowledge = Table(
    "knowledge", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(50), nullable=False),
    Column("rule", String(30), nullable=False),
    Column("limit_value", String(500), nullable=False, server_default=text("''")),
    Column("unit", String(20), nullable=False, server_default=text("''")),
    Column("other_code", String(50), nullable=False, server_default=text("''")),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date),
    Column("source", Text, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("rule", "code", "other_code", "begndate"),
)
"""知识库: the monitoring rules' dated restrictions in the national form (gongji.monitor.knowledge): `code` is a
med_list_codg, a diagnosis code prefix for the diagnosis_* rules, or * for a rule about the whole claim;
`limit_value`, `unit` and `other_code` mean what the rule says (RULE_TYPES), '' when it says nothing. No two
restrictions of one (rule, code, other_code) overlap in time (checked at import)."""

monitor_hits = Table(
    "monitor_hits", metadata,
    Column("hit_id", String(20), primary_key=True),
    Column("rule", String(30), nullable=False),
    Column("code", String(100), nullable=False),
    Column("cls", String(10), nullable=False),
    Column("setl_id", ForeignKey("settlements.setl_id"), nullable=False, index=True),
    Column("line", Integer),
    Column("psn_no", String(30), nullable=False),
    Column("fixmedins_code", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("moment", String(4), nullable=False),
    Column("status", String(10), nullable=False, server_default=text("'pending'")),
    Column("reviewer", String(50)),
    Column("notes", Text),
    Column("found_at", DateTime, nullable=False),
    Column("decided_at", DateTime),
    fen("clawed_back"),
    CheckConstraint("cls IN ('明确违规', '可疑')", name="cls"),
    CheckConstraint("moment IN ('pre', 'post')", name="moment"),
    CheckConstraint("status IN ('pending', 'confirmed', 'dismissed')", name="status"),
    Index("ix_monitor_hits_status_found_at", "status", "found_at"),
)
"""审核队列: one hit of a monitoring rule on a stored settlement (gongji.services.monitor_queue). hit_id is stable ("HT"
+ 18 hex digits of the SHA-1 of rule|setl_id|line|code, and |diagnosis for a rule with one finding per diagnosis),
so finding it again adds nothing; `line` is the feedetl_sn (None for a rule about the whole claim), `amount` the fen
at stake, `moment` pre (事前/事中, online) or post (事后, the batch). A reviewer confirms or dismisses it; `clawed_back`
is the fund payment a confirmation took back to the pool."""

precheck_warnings = Table(
    "precheck_warnings", metadata,
    Column("jr_id", String(50), primary_key=True),
    Column("fixmedins_code", ForeignKey("institutions.fixmedins_code"), nullable=False),
    Column("msgid", String(30), nullable=False),
    Column("infno", String(4), nullable=False),
    Column("trig_scen", String(1), nullable=False),
    Column("psn_no", ForeignKey("persons.psn_no"), nullable=False),
    Column("mdtrt_id", String(50), nullable=False),
    Column("rule", String(30), nullable=False),
    Column("code", String(100), nullable=False),
    Column("cls", String(10), nullable=False),
    Column("line", Integer),
    Column("amount", BigInteger, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("checked_at", DateTime, nullable=False),
    Column("dspo_way", String(1)),
    Column("dspo_way_rea", String(500)),
    Column("warn_type", String(1)),
    Column("disposed_at", DateTime),
    CheckConstraint("cls IN ('明确违规', '可疑')", name="cls"),
    CheckConstraint("infno IN ('3101', '3102')", name="infno"),
    CheckConstraint("dspo_way IS NULL OR dspo_way IN ('1', '2')", name="dspo_way"),
    Index("ix_precheck_warnings_fixmedins_code_checked_at", "fixmedins_code", "checked_at"),
)
"""明细审核 warnings: what the national pre-check transactions 3101 (事前) and 3102 (事中) answered an institution,
one row per result (jr_id), and what the institution did about it (3103: dspo_way 1 went on, with dspo_way_rea,
or 2 went back to change the orders). `line` is the order's position in fsi_order_dtos (None for a rule about the
whole encounter), `amount` the fen concerned."""

credit_events = Table(
    "credit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("subject_kind", String(12), nullable=False),
    Column("subject", String(30), nullable=False),
    Column("hit_id", ForeignKey("monitor_hits.hit_id"), nullable=False, index=True),
    Column("points", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime, nullable=False),
    CheckConstraint("subject_kind IN ('institution', 'member')", name="subject_kind"),
    Index("ix_credit_events_subject_kind_subject", "subject_kind", "subject"),
)
"""信用记录: the points a confirmed hit cost an institution (fixmedins_code) or a member (psn_no); negative for a
violation. The score is the policy's starting score plus the points, never below 0."""
