"""The output nodes settlements share: setlinfo (NHSA.md §4.3), setldetail and the per-line split."""

from __future__ import annotations

from collections.abc import Mapping

from gongji.api.envelope import (
    ratio,
    scaled,
    yuan,
)
from gongji.services import settlement as settling
from gongji.services.settlement import Settlement

_SETL_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                 "act_pay_dedc", "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
                 "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc",
                 "acct_mulaid_pay")


def setlinfo_out(s: Settlement, person: Mapping, committed: bool) -> dict:
    """setlinfo, with gongji's own `inpatient_pay` (over-cap cost paid under the inpatient benefit) and
    `chronic_pay` (paid under a chronic or special disease's benefit, med_type 14), both inside hifp_pay; `dise_codg`
    the disease of a med_type 14 settlement, `rxno` the prescription a pharmacy sale was pooled on,
    `mdtrtarea_admvs` where the care was given (就医地) and `clr_optins` the insured region that clears it."""
    info, row = settling.setlinfo(s), s.row
    out = {"mdtrt_id": row["mdtrt_id"], "setl_id": row["setl_id"] if committed else None,
           "psn_no": row["psn_no"], "psn_name": person["psn_name"], "psn_cert_type": "01",
           "certno": person["certno"], "gend": person["gend"], "naty": None, "brdy": person["brdy"].isoformat(),
           "age": row["age"], "insutype": info["insutype"], "psn_type": person["psn_type"], "cvlserv_flag": "0",
           "setl_time": info["setl_time"], "mdtrt_cert_type": row.get("mdtrt_cert_type"),
           "med_type": row["med_type"]}
    out |= {name: yuan(info[name]) for name in _SETL_AMOUNTS}
    out |= {"pool_prop_selfpay": ratio(row["pool_prop"]), "medins_setl_id": row.get("medins_setl_id"),
            "clr_optins": info["clr_optins"] if committed else None, "clr_way": info["clr_way"] if committed else None,
            "clr_type": info["clr_type"], "hosp_lv": info["hosp_lv"], "refd_setl_flag": "1" if row["reverses"] else "0",
            "setl_proc_info": row["proc_info_zh"], "inpatient_pay": yuan(info["inpatient_pay"]),
            "chronic_pay": yuan(info["chronic_pay"]), "dise_codg": info["dise_codg"],
            "mdtrtarea_admvs": info["mdtrtarea_admvs"], "rxno": info["rxno"]}
    return out


def setldetail(s: Settlement) -> list[dict]:
    """The pooled fund (310100: ordinary pooling, inpatient and chronic disease benefits) and account (310200)
    lines, where non-zero."""
    row = s.row
    fund = row["hifp_pay"] + row["inpatient_pay"] + row["chronic_pay"]
    lines = []
    if fund:
        lines.append({"fund_pay_type": "310100", "fund_pay_type_name": "职工基本医疗保险统筹基金",
                      "inscp_scp_amt": yuan(row["inscp_scp_amt"]), "crt_payb_lmt_amt": None,
                      "fund_payamt": yuan(fund), "setl_proc_info": row["proc_info_zh"]})
    if row["acct_pay"]:
        lines.append({"fund_pay_type": "310200", "fund_pay_type_name": "职工基本医疗保险个人账户基金",
                      "inscp_scp_amt": yuan(row["inscp_scp_amt"]), "crt_payb_lmt_amt": None,
                      "fund_payamt": yuan(row["acct_pay"]),
                      "setl_proc_info": f"其中家庭共济 {row['acct_mulaid_pay'] / 100:.2f}" if row["acct_mulaid_pay"]
                      else None})
    return lines


def _flag(value: object) -> str | None:
    return None if value is None else "1" if value else "0"


def line_split(line: Mapping) -> dict:
    """One fee line's split, under the 2204 result / 2101 detlcutinfo names: pric_uplmt_amt is the payment
    standard in effect for the line (医保支付标准, or the listing price where lower), hi_nego_drug_flag the
    catalogue's negotiated-drug flag (国谈药, "1"/"0")."""
    return {"feedetl_sn": str(line["feedetl_sn"]), "det_item_fee_sumamt": yuan(line["det_item_fee_sumamt"]),
            "cnt": scaled(line["cnt"]), "pric": scaled(line["pric"]), "pric_uplmt_amt": scaled(line.get("pay_std")),
            "selfpay_prop": ratio(line.get("selfpay_prop", 0)), "fulamt_ownpay_amt": yuan(line["fulamt_ownpay_amt"]),
            "overlmt_amt": yuan(line["overlmt_amt"]), "preselfpay_amt": yuan(line["preselfpay_amt"]),
            "inscp_scp_amt": yuan(line["inscp_scp_amt"]), "chrgitm_lv": line.get("chrgitm_lv"),
            "med_chrgitm_type": line.get("list_type"), "bas_medn_flag": None,
            "hi_nego_drug_flag": _flag(line.get("hi_nego_drug_flag")),
            "lmt_used_flag": "1" if line.get("memo") else "0", "drt_reim_flag": "0", "memo": line.get("memo")}


def settled(s: Settlement, person: Mapping, committed: bool = True) -> dict:
    return {"setlinfo": setlinfo_out(s, person, committed), "setldetail": setldetail(s)}
