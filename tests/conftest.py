from pathlib import Path

import pytest

from gongji.policy.loader import PolicyBook

TESTS = Path(__file__).parent
TEST_POLICIES = TESTS / "policies"


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    """The shipped regions plus the test region 990100."""
    return PolicyBook.load(TEST_POLICIES)
