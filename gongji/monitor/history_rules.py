"""Rules that read the member's earlier claims, or facts beyond the claim: frequencies and amounts over a period,
courses, second-line drugs, frequent visits and purchases, overlapping supply, traceability codes settled twice,
claims during an inpatient stay, institutions paused or not designated, unusual family-account use."""

from __future__ import annotations
