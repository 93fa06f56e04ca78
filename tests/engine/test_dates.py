from datetime import date

from gongji.engine.dates import age_on


def test_age_in_full_years():
    assert age_on(date(1954, 11, 15), date(2024, 11, 14)) == 69
    assert age_on(date(1954, 11, 15), date(2024, 11, 15)) == 70


def test_born_on_29_february():
    assert age_on(date(1956, 2, 29), date(2026, 2, 28)) == 69
    assert age_on(date(1956, 2, 29), date(2026, 3, 1)) == 70
