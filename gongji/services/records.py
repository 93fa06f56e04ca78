"""What a person, a family relation, an institution and a catalogue item must be, checked once for every
door (CSV import, CLI, HTTP). Field names are the national platform's; amounts come in as yuan strings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from gongji.engine.bill import CLASS_A, CLASS_B, CLASS_C, PRICE_SCALE
from gongji.money import MoneyError, format_yuan, parse_ratio, to_decimal, yuan_to_fen
from gongji.policy.values import IN_SERVICE, RETIRED
from gongji.store.tables import NATIONAL

ITEM_CLASSES = {"甲": CLASS_A, "A": CLASS_A, "01": CLASS_A, "乙": CLASS_B, "B": CLASS_B, "02": CLASS_B,
                "丙": CLASS_C, "C": CLASS_C, "03": CLASS_C, "unlisted": CLASS_C}
"""Item class labels accepted: Chinese, Latin, and the national chrgitm_lv codes 01/02/03."""
CHRGITM_LV = {CLASS_A: "01", CLASS_B: "02", CLASS_C: "03"}

INSUTYPE_EMPLOYEE = "310"
"""职工基本医疗保险: the only insurance type gongji settles."""
NORMAL, PAUSED, TERMINATED = "1", "2", "4"
"""psn_insu_stas: 正常参保, 暂停, 终止."""
MALE, FEMALE = "1", "2"
RELATIONS = {"spouse": "spouse", "配偶": "spouse", "parent": "parent", "父母": "parent", "父亲": "parent",
             "母亲": "parent", "child": "child", "子女": "child", "儿子": "child", "女儿": "child"}
"""The relations family mutual aid (家庭共济) admits, as written in a file -> gongji's word."""
INVERSE = {"spouse": "spouse", "parent": "child", "child": "parent"}
RELATION_ZH = {"spouse": "配偶", "parent": "父母", "child": "子女"}
"""a relation as the pages say it."""
HOSPITAL, PHARMACY = "1", "2"
"""fixmedins_type: 定点医疗机构, 定点零售药店."""
LIST_TYPES = {"drug": "drug", "药品": "drug", "service": "service", "诊疗项目": "service", "医疗服务项目": "service",
              "material": "material", "医用耗材": "material"}


def _scaled(value: object, what: str) -> int:
    number = to_decimal(value, what) * PRICE_SCALE
    if number != number.to_integral_value():
        raise MoneyError(f"{value!r} has more than four decimals ({what})")
    return int(number)


def _non_negative(convert):
    def check(value: object) -> int:
        result = convert(value)
        if result < 0:
            raise ValueError("must not be negative")
        return result
    return check


def _flag(value: object) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "y", "yes", "是"):
        return True
    if text in ("0", "false", "n", "no", "否"):
        return False
    raise ValueError("must be 1 or 0")


MAX_AMOUNT = 100_000_000_000
"""1,000,000,000.00 yuan, in fen: above any real amount, and a region's sum of them still fits a 64-bit column."""


def _amount(value: object) -> int:
    fen = _non_negative(yuan_to_fen)(value)
    if fen > MAX_AMOUNT:
        raise ValueError(f"must not be more than {format_yuan(MAX_AMOUNT)} yuan")
    return fen


Yuan = Annotated[int, BeforeValidator(_amount),
                 WithJsonSchema({"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$", "examples": ["123.45"]})]
"""An amount in yuan ('123.45'), held as fen."""
UnitPrice = Annotated[int, BeforeValidator(_non_negative(lambda v: _scaled(v, "unit price in yuan")))]
"""A unit price in yuan with up to four decimals, held in 1/10000 yuan."""
Quantity = Annotated[int, BeforeValidator(_non_negative(lambda v: _scaled(v, "quantity")))]
"""A quantity with up to four decimals, held in 1/10000."""
Flag = Annotated[bool, BeforeValidator(_flag)]
Ratio = Annotated[int, BeforeValidator(parse_ratio), Field(ge=0, le=10_000)]
Admdvs = Annotated[str, Field(pattern=r"^\d{6}$")]
PsnNo = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,30}$")]
Name = Annotated[str, Field(min_length=1, max_length=50)]


def check_certno(value: object) -> str:
    """A resident ID number (居民身份证号码) checked by python-stdnum: length, birth date, check digit."""
    if not isinstance(value, str):
        raise ValueError("must be an 18-character ID number")
    try:
        return ric.validate(value).upper()
    except StdnumError as exc:
        raise ValueError(f"is not a valid resident ID number: {exc}") from None
    except KeyError:  # python-stdnum 2.2 fails so on a place code that names no county, e.g. 530002
        raise ValueError("is not a valid resident ID number: unknown birth place") from None


CertNo = Annotated[str, BeforeValidator(check_certno)]


def gender_of(certno: str) -> str:
    """The 17th digit: odd for men (gend 1), even for women (gend 2)."""
    return MALE if int(certno[16]) % 2 else FEMALE


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonRecord(Record):
    """参保人: an insured employee (insutype 310)."""

    psn_no: PsnNo
    psn_name: Name
    certno: CertNo
    gend: Literal["1", "2"]
    brdy: date
    insutype: Literal["310"] = INSUTYPE_EMPLOYEE
    psn_type: Annotated[str, Field(pattern=r"^1[12]\d{0,4}$")]
    """人员类别: 11 (or 11xx) in service, 12 (or 12xx) retired."""
    insuplc_admdvs: Admdvs
    emp_name: Annotated[str, Field(max_length=200)] = ""
    crt_cont_base: Yuan = 0
    """缴费基数: the monthly contribution base."""
    pension: Yuan = 0
    """the monthly basic pension (retirees)."""
    psn_insu_stas: Literal["1", "2", "4"]
    psn_insu_date: date
    retire_date: date | None = None
    """退休日期: the member counts as retired from the first day of the next month."""
    balc: Yuan | None = None
    """the account's opening balance, taken only when the account is opened."""
    prev_year_credit: Yuan = 0
    """the account's total credit of the previous year (for a transition crediting rule)."""

    @model_validator(mode="after")
    def _agrees_with_id(self) -> PersonRecord:
        born = ric.get_birth_date(self.certno)
        if self.brdy != born:
            raise ValueError(f"brdy {self.brdy} does not agree with certno, which says {born}")
        if self.gend != gender_of(self.certno):
            raise ValueError(f"gend {self.gend} does not agree with certno, which says {gender_of(self.certno)}")
        if self.psn_insu_date < self.brdy:
            raise ValueError(f"psn_insu_date {self.psn_insu_date} is before brdy {self.brdy}")
        if self.retire_date is not None and self.retire_date < self.brdy:
            raise ValueError(f"retire_date {self.retire_date} is before brdy {self.brdy}")
        return self


def member_type_on(psn_type: str, retire_date: date | None, on: date) -> str:
    """in_service or retired on `on`: with a retirement date, retired from the first day of the month after it;
    without one, as psn_type says."""
    if retire_date is not None:
        first_retired_month = (retire_date.year * 12 + retire_date.month) + 1
        return RETIRED if on.year * 12 + on.month >= first_retired_month else IN_SERVICE
    return RETIRED if psn_type.startswith("12") else IN_SERVICE


class RelationRecord(Record):
    """A family relation: `relative_certno` is `psn_no`'s spouse, parent or child."""

    psn_no: PsnNo
    relative_certno: CertNo
    relative_name: Name
    relation: str

    @field_validator("relation")
    @classmethod
    def _admitted(cls, value: str) -> str:
        if value not in RELATIONS:
            raise ValueError("must be spouse, parent or child (配偶, 父母, 子女); family mutual aid admits no other")
        return RELATIONS[value]


class InstitutionRecord(Record):
    """定点医药机构: a medical institution (H + 11 digits) or a retail pharmacy (P + 11 digits)."""

    fixmedins_code: Annotated[str, Field(pattern=r"^[HP]\d{11}$")]
    fixmedins_name: Annotated[str, Field(min_length=1, max_length=200)]
    hosp_lv: Annotated[int, Field(ge=1, le=3)] | None = None
    """医院等级 1/2/3 for a medical institution; none for a pharmacy."""
    admdvs: Admdvs
    designated: Flag = True
    """定点: may settle with the insurance at all."""
    otp_pool_flag: Flag | None = None
    """a pharmacy admitted to outpatient pooling (门诊统筹定点药店)."""

    @property
    def fixmedins_type(self) -> str:
        return HOSPITAL if self.fixmedins_code.startswith("H") else PHARMACY

    @model_validator(mode="after")
    def _kind(self) -> InstitutionRecord:
        if self.fixmedins_type == HOSPITAL:
            if self.hosp_lv is None:
                raise ValueError(f"hosp_lv: {self.fixmedins_code} is a medical institution and needs its level "
                                 "1, 2 or 3 (value: empty)")
            if self.otp_pool_flag is False:
                raise ValueError("otp_pool_flag: applies to pharmacies only")
        elif self.hosp_lv is not None:
            raise ValueError(f"hosp_lv: a pharmacy has no level (value: {self.hosp_lv})")
        return self

    @property
    def outpatient_pooled(self) -> bool:
        return self.fixmedins_type == HOSPITAL or bool(self.otp_pool_flag)


class CatalogueRecord(Record):
    """A catalogue item (医保目录): drug, service or material, class 甲/乙/丙, of the national catalogue or of one
    region's (就医地目录: `admdvs`, whose row replaces the national one for care in that region)."""

    admdvs: Admdvs = NATIONAL
    """the region whose catalogue the row belongs to; empty is the national catalogue (000000)."""
    med_list_codg: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]{1,50}$")]
    med_list_name: Annotated[str, Field(min_length=1, max_length=200)]
    list_type: str
    chrgitm_lv: str
    selfpay_prop: Ratio | None = None
    """先行自付比例 of a class 乙 item."""
    pay_std: UnitPrice | None = None
    """医保支付标准, a unit price."""
    pric_uplmt_amt: UnitPrice | None = None
    """the provincial platform's listing price (挂网价), a unit price: the most the fund pays per unit of an item
    that is neither negotiated nor centrally procured (the lower of it and pay_std)."""
    hi_nego_drug_flag: Flag = False
    """a negotiated drug (国家谈判药品): paid at its pay_std."""
    vbp_flag: Flag = False
    """centrally procured in volume (集中带量采购): paid at its pay_std."""
    lmt_gend: Literal["1", "2"] | None = None
    lmt_age_min: Annotated[int, Field(ge=0, le=150)] | None = None
    lmt_age_max: Annotated[int, Field(ge=0, le=150)] | None = None

    @field_validator("list_type")
    @classmethod
    def _list_type(cls, value: str) -> str:
        if value not in LIST_TYPES:
            raise ValueError("must be drug, service or material (药品, 诊疗项目, 医用耗材)")
        return LIST_TYPES[value]

    @field_validator("chrgitm_lv")
    @classmethod
    def _class(cls, value: str) -> str:
        if value not in ITEM_CLASSES:
            raise ValueError("must be 甲, 乙 or 丙 (01, 02, 03)")
        return CHRGITM_LV[ITEM_CLASSES[value]]

    @model_validator(mode="after")
    def _share(self) -> CatalogueRecord:
        if self.chrgitm_lv == CHRGITM_LV[CLASS_B] and self.selfpay_prop is None:
            raise ValueError(f"selfpay_prop: {self.med_list_codg} is class 乙 and needs its first self-pay share "
                             "(value: empty)")
        for flag, what in (("hi_nego_drug_flag", "a negotiated drug"), ("vbp_flag", "centrally procured")):
            if getattr(self, flag) and self.pay_std is None:
                raise ValueError(f"pay_std: {self.med_list_codg} is {what} ({flag} 1) and needs its payment "
                                 "standard (value: empty)")
        if self.hi_nego_drug_flag and self.list_type != "drug":
            raise ValueError(f"hi_nego_drug_flag: {self.med_list_codg} is a {self.list_type}, and only a drug can be "
                             "a negotiated drug (value: 1)")
        if self.vbp_flag and self.list_type == "service":
            raise ValueError(f"vbp_flag: {self.med_list_codg} is a service; only drugs and materials are procured "
                             "(value: 1)")
        if self.lmt_age_min is not None and self.lmt_age_max is not None and self.lmt_age_min > self.lmt_age_max:
            raise ValueError(f"lmt_age_min {self.lmt_age_min} is above lmt_age_max {self.lmt_age_max}")
        return self


def make_certno(admdvs: str, birth: date, serial: int, gend: str) -> str:
    """A valid ID number for synthetic people (demo data, tests): the birth place is `admdvs` when that code
    existed in the birth year, else its province's; a 3-digit serial whose last digit carries the gender;
    the check digit."""
    serial = serial % 500 * 2 + (1 if gend == MALE else 0)
    for place in (admdvs, admdvs[:2] + "0000"):
        body = f"{place}{birth:%Y%m%d}{serial:03d}"
        number = body + ric.calc_check_digit(body + "0")  # stdnum takes the number with a check digit slot
        try:
            return check_certno(number)
        except ValueError:
            continue
    raise ValueError(f"no valid ID number for region {admdvs} and birth date {birth}")
