"""What the mirror sends and what it logs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Logged:
    time: float  # time.monotonic() at arrival
    path: str
    query: dict[str, str]
    headers: dict[str, str]
