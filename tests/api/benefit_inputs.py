"""Inputs of the issue-6 transactions as an HIS would send them: 7101 prescriptions, 2503 qualifications."""

from __future__ import annotations


def rx_input(psn_no: str, hosp_rxno: str, drugs: list[tuple[str, str, int]], prsc_time: str = "2024-03-01 09:30:00",
             **data) -> dict:
    """A 7101 input: the prescription `hosp_rxno` for `psn_no`, drugs as (med_list_codg, drug_cnt, medc_days)."""
    return {
        "data": {"hosp_rxno": hosp_rxno, "init_rxno": "", "rx_type_code": "1", "prsc_time": prsc_time,
                 "rx_drug_nums": len(drugs), "rx_way_codg": "", "valid_days": 3, "rept_flag": "0",
                 "rx_cotn_flag": "0", "rx_circ_flag": "1", "rx_file": "base64...", **data},
        "rxdrugdetail": [{"med_list_codg": code, "fixmedins_hilist_id": f"HIS-{code}", "drug_genname": f"药品{code}",
                          "drug_dosform": "片剂", "drug_spec": "10mg", "drug_cnt": cnt, "drug_cnt_unit": "片",
                          "medc_way_codg": "1", "medc_way_dscr": "口服", "medc_days": days, "used_frqu_codg": "tid"}
                         for code, cnt, days in drugs],
        "mdtrtinfo": {"mdtrt_id": "", "med_type": "11", "psn_no": psn_no, "patn_name": f"测试{psn_no}",
                      "prsc_dept_name": "内科", "prsc_dept_code": "A03", "prsc_dr_name": "王医生",
                      "diag_code": "I10.x00", "diag_name": "高血压", "insuplc_admdvs": "321000"},
        "diseinfo": [{"diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1, "diag_code": "I10.x00",
                      "diag_name": "高血压"}],
    }


def qualification_input(psn_no: str, code: str, institution: str, begndate: str = "2024-01-01", **data) -> dict:
    """A 2503 input: `psn_no` qualified for disease `code`, identified by `institution`."""
    return {"data": {"psn_no": psn_no, "insutype": "310", "opsp_dise_code": code, "opsp_dise_name": "病种" + code,
                     "tel": "13800000000", "addr": "扬州市", "insu_optins": "321000", "ide_fixmedins_no": institution,
                     "ide_fixmedins_name": f"机构{institution}", "hosp_ide_date": "2023-12-20",
                     "diag_dr_codg": "D001", "diag_dr_name": "李医生", "begndate": begndate, "enddate": "", **data}}
