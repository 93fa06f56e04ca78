"""Reading region files and finding the version in force: `policy_for(admdvs, date)`.

The shipped regions live in `gongji/policy/regions/`; a bureau adds or overrides regions with a folder of its
own files (`GONGJI_POLICY_DIR` or `--policy-dir`), where a file for the same `admdvs` replaces the shipped one.
A region without a file, or without a version on the date, falls back to its city, then its province
(530925 -> 530900 -> 530000).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from gongji.errors import describe, short_repr
from gongji.policy import floor
from gongji.policy.schema import ADMDVS, Region, Version

POLICY_DIR_ENV = "GONGJI_POLICY_DIR"


class PolicyError(ValueError):
    """A region file that cannot be used; the message names the file, the field path and the value."""


class PolicyNotFound(LookupError):
    """No region or no version for what was asked; the message says which."""


def load_region_file(path: Path) -> Region:
    """One region file, validated against the schema and the national floor, or a PolicyError."""
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{name}: cannot be read as YAML: {exc}") from None
    try:
        region = Region.model_validate(data)
    except ValidationError as exc:
        raise PolicyError("\n".join(f"{name}: {line}" for line in describe(exc))) from None
    lines = []
    for i, version in enumerate(region.versions):
        for v in floor.violations(version):
            lines.append(f"{name}: versions[{i}].{v.path}: {v.message} (value: {short_repr(v.value)})")
    if lines:
        raise PolicyError("\n".join(lines))
    return region


def _region_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def fallback_chain(admdvs: str) -> list[str]:
    """530925 -> [530925, 530900, 530000]; 530900 -> [530900, 530000]; 530000 -> [530000]."""
    chain = [admdvs]
    for code in (admdvs[:4] + "00", admdvs[:2] + "0000"):
        if code != chain[-1]:
            chain.append(code)
    return chain


@dataclass(frozen=True)
class PolicyBook:
    """Every region known: the shipped files and a bureau's own folder."""

    regions: dict[str, Region]

    @classmethod
    def load(cls, policy_dir: Path | None = None) -> PolicyBook:
        shipped = resources.files("gongji.policy") / "regions"
        folders = [Path(str(shipped))]
        if policy_dir is not None:
            if not policy_dir.is_dir():
                raise PolicyError(f"policy dir {str(policy_dir)!r} is not a folder")
            folders.append(policy_dir)
        regions: dict[str, Region] = {}
        for folder in folders:
            seen: dict[str, str] = {}
            for path in _region_files(folder):
                region = load_region_file(path)
                if region.admdvs in seen:
                    raise PolicyError(f"{path.name}: admdvs: region {region.admdvs} is also in {seen[region.admdvs]}")
                seen[region.admdvs] = path.name
                regions[region.admdvs] = region
        return cls(regions)

    def region(self, admdvs: str) -> Region:
        """The region whose file serves `admdvs`, after fallback (for names and version lists)."""
        self._check_code(admdvs)
        for code in fallback_chain(admdvs):
            if code in self.regions:
                return self.regions[code]
        raise PolicyNotFound(f"unknown region {admdvs!r}: no policy file for it, its city or its province")

    def policy_for(self, admdvs: str, on: date) -> Version:
        """The version in force in `admdvs` on `on`, falling back county -> city -> province."""
        self._check_code(admdvs)
        known = False
        for code in fallback_chain(admdvs):
            region = self.regions.get(code)
            if region is None:
                continue
            known = True
            version = region.version_on(on)
            if version is not None:
                return version
        if not known:
            raise PolicyNotFound(f"unknown region {admdvs!r}: no policy file for it, its city or its province")
        raise PolicyNotFound(f"region {admdvs} has no policy version in force on {on.isoformat()}")

    @staticmethod
    def _check_code(admdvs: str) -> None:
        if not isinstance(admdvs, str) or not ADMDVS.match(admdvs):
            raise PolicyNotFound(f"region {admdvs!r} is not a 6-digit region code")


def policy_dir_from_env(explicit: Path | None = None) -> Path | None:
    """`--policy-dir` when given, else GONGJI_POLICY_DIR when set."""
    if explicit is not None:
        return explicit
    value = os.environ.get(POLICY_DIR_ENV)
    return Path(value) if value else None


@lru_cache(maxsize=8)
def _book(policy_dir: Path | None) -> PolicyBook:
    return PolicyBook.load(policy_dir)


def load_book(policy_dir: Path | None = None) -> PolicyBook:
    """The policy book for the shipped regions plus `policy_dir` (or GONGJI_POLICY_DIR), loaded once."""
    return _book(policy_dir_from_env(policy_dir))


def policy_for(admdvs: str, on: date, policy_dir: Path | None = None) -> Version:
    """The version in force in `admdvs` on `on`; see PolicyBook.policy_for."""
    return load_book(policy_dir).policy_for(admdvs, on)
