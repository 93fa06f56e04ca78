"""Rules as data: one YAML file per region, dated versions, validated at load."""

from gongji.policy.loader import PolicyBook, PolicyError, PolicyNotFound, load_book, policy_for
from gongji.policy.schema import Region, Version
from gongji.policy.values import IN_SERVICE, LEVELS, MEMBER_TYPES, RETIRED

__all__ = [
    "IN_SERVICE", "LEVELS", "MEMBER_TYPES", "RETIRED",
    "PolicyBook", "PolicyError", "PolicyNotFound", "Region", "Version", "load_book", "policy_for",
]
