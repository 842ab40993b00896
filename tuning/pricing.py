"""Instance prices, kept in one file (``prices.json``) with their source and date.

Every cost figure in a report or a profile comes from :func:`load_prices`, so updating a
price (or pointing at a private price list) is a one-file change that the report cites.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PRICES = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class PriceTable:
    """Hourly prices per instance type, with where they came from.

    Attributes:
        prices: Instance type → price per instance-hour.
        currency: ISO currency code.
        source: Where the prices were read.
        as_of: When they were valid.
        region: AWS region they apply to.
    """

    prices: dict[str, float]
    currency: str
    source: str
    as_of: str
    region: str = ""

    def hourly(self, instance_type: str) -> float:
        """Price per hour of ``instance_type``.

        Raises:
            KeyError: For an instance type not in the table (naming the known ones).
        """
        try:
            return self.prices[instance_type]
        except KeyError:
            known = ", ".join(sorted(self.prices))
            raise KeyError(
                f"no price for instance_type {instance_type!r}; known: {known}. Add it to {DEFAULT_PRICES.name}"
            ) from None

    def citation(self) -> str:
        """One line for reports: source, date, region."""
        return f"{self.currency} per instance-hour, {self.region}, as of {self.as_of}. Source: {self.source}"


def load_prices(path: Path | str | None = None) -> PriceTable:
    """Read a price table (``tuning/prices.json`` by default).

    Raises:
        ValueError: When a required key is missing or a price is not a positive number.
    """
    file = Path(path) if path is not None else DEFAULT_PRICES
    data: dict[str, Any] = json.loads(file.read_text())
    missing = [k for k in ("currency", "source", "as_of", "prices") if k not in data]
    if missing:
        raise ValueError(f"{file}: missing key(s) {missing}")
    prices = {str(k): float(v) for k, v in data["prices"].items()}
    bad = {k: v for k, v in prices.items() if not v > 0}
    if bad:
        raise ValueError(f"{file}: prices must be > 0 (got {bad})")
    return PriceTable(prices, str(data["currency"]), str(data["source"]), str(data["as_of"]), str(data.get("region", "")))
