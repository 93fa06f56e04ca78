"""Hypothesis strategies: random policy versions that pass the national floor, and random visits."""

from datetime import date, timedelta

from hypothesis import strategies as st

from gongji.policy.schema import MemberAmounts, Version

fen = st.integers(min_value=0, max_value=2_000_000)
bp_floor = st.integers(min_value=5000, max_value=10_000)


@st.composite
def ratio_tables(draw):
    in_service = {level: draw(bp_floor) for level in (1, 2, 3)}
    retired = {level: draw(st.integers(in_service[level], 10_000)) for level in (1, 2, 3)}
    table = {"in_service": {k: v / 10_000 for k, v in in_service.items()},
             "retired": {k: v / 10_000 for k, v in retired.items()}}
    if draw(st.booleans()):
        older = {level: draw(st.integers(in_service[level], 10_000)) for level in (1, 2, 3)}
        table["retired_from_age"] = {draw(st.integers(60, 90)): {k: v / 10_000 for k, v in older.items()}}
    return table


def _yuan(fen_amount: int) -> str:
    return f"{fen_amount // 100}.{fen_amount % 100:02d}"


@st.composite
def versions(draw) -> Version:
    """A reform version with a random deductible basis, ratios, bands, cap and what lies above it (the inpatient
    benefit with its own deductible, often not zero)."""
    basis = draw(st.sampled_from(["annual", "annual_topup", "per_visit"]))
    if basis == "annual":
        d_in = draw(st.integers(0, 200_000))
        deductible = {"in_service": _yuan(d_in), "retired": _yuan(draw(st.integers(0, d_in)))}
    else:
        d_in = {level: draw(st.integers(0, 100_000)) for level in (1, 2, 3)}
        deductible = {"in_service": {k: _yuan(v) for k, v in d_in.items()},
                      "retired": {k: _yuan(draw(st.integers(0, v))) for k, v in d_in.items()}}
    cap_in = draw(st.integers(0, 3_000_000))
    edges = sorted(draw(st.sets(st.integers(1, 5_000_000), max_size=2)))
    above = draw(st.sampled_from(["nothing", "inpatient"]))
    data = {
        "effective_from": date(2000, 1, 1),
        "title": "random",
        "outpatient": {
            "deductible": {"basis": basis, **deductible, "source": "t"},
            "ratios": {**draw(ratio_tables()), "source": "t"},
            "cost_bands": [{"above": _yuan(e), "ratios": draw(ratio_tables()), "source": "t"} for e in edges],
            "cap": {"in_service": _yuan(cap_in), "retired": _yuan(draw(st.integers(cap_in, 4_000_000))),
                    "above": above, "source": "t"},
            "pharmacy": {"pooled": draw(st.booleans()), "source": "t",
                         "prescriptions": {"valid_days": 3, "max_supply_days": 84, "source": "t"}},
        },
        "crediting": {"in_service": {"rule": "base_percent", "percent": "2%", "source": "t"},
                      "retired": {"rule": "fixed_by_age", "amounts": {0: "100.00"}, "source": "t"}},
    }
    if above == "inpatient":
        inpatient_deductible = st.one_of(st.just(0), st.integers(0, 50_000), fen)
        data["inpatient"] = {"ratios": draw(ratio_tables()), "source": "t",
                             "deductible": {"in_service": _yuan(draw(inpatient_deductible)),
                                            "retired": _yuan(draw(inpatient_deductible))},
                             "cap": {"in_service": _yuan(draw(fen)), "retired": _yuan(draw(fen))}}
    return Version.model_validate(data)


@st.composite
def visits(draw, max_size=30):
    """(member_type, age, level, setting, covered, prescribed) tuples of one member's year, in order."""
    retired = draw(st.booleans())
    age = draw(st.integers(18, 100))
    amount = st.one_of(st.integers(0, 10_000), st.integers(0, 500_000), st.integers(0, 3_000_000))
    rows = draw(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["clinic", "clinic", "pharmacy"]),
                                   amount, st.booleans()), min_size=1, max_size=max_size))
    start = date(2024, 1, 1)
    return [("retired" if retired else "in_service", age, level, setting, covered, prescribed,
             start + timedelta(days=i)) for i, (level, setting, covered, prescribed) in enumerate(rows)]


def with_inpatient_deductible(version: Version, in_service: str, retired: str) -> Version:
    """`version` with the inpatient benefit's deductible (owed once a year by cost above the outpatient cap) set
    to these yuan amounts."""
    deductible = MemberAmounts.model_validate({"in_service": in_service, "retired": retired})
    return version.model_copy(update={"inpatient": version.inpatient.model_copy(update={"deductible": deductible})})
