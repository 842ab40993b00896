"""Instance prices, kept in one file (``prices.json``), every row with its own source and date.

Every cost figure in a report or a profile comes from :func:`load_prices`, so updating a
price (or pointing at a private price list with ``--prices``) is a one-file change that the
report cites row by row. Third-party figures are labelled as such; instance types no
citable source prices are listed under ``not_priced`` with the reason, and a report shows
their costs as n/a instead of a guess.

File format (``schema_version`` 2)::

    {"schema_version": 2, "currency": "USD", "unit": "per instance-hour", "region": "us-east-1",
     "offer": "Amazon SageMaker real-time inference (hosting), on-demand",
     "sources": {"<id>": {"title": ..., "url": ..., "publisher": ..., "third_party": true, "read": ...}},
     "prices": {"ml.g5.xlarge": {"usd_per_hour": 1.4084, "source": "<id>", "as_of": "2024-05-18 .. 2025-01-26",
                                 "note": "optional"}},
     "not_priced": {"ml.p5e.48xlarge": "why no rate is given"}}

A schema-1 file (one ``source`` and ``as_of`` for a flat ``prices`` map) is still read; each row
then carries the file's source.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.hardware import parse_instance_type
from model_build.user_errors import UserError

DEFAULT_PRICES = Path(__file__).with_name("prices.json")


class PriceError(UserError):
    """A price file is unreadable or invalid; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class PriceSource:
    """Where some prices were read.

    Attributes:
        id: Key in the file's ``sources``.
        title: What it is (page, file and commit).
        url: Where to check it; None when the copy read carries none.
        publisher: Who publishes it and what kind of source it is.
        third_party: True unless AWS publishes it.
        read: When it was read.
    """

    id: str
    title: str
    url: str | None
    publisher: str
    third_party: bool
    read: str

    def label(self) -> str:
        """``"THIRD-PARTY: <title>"`` or ``"<title>"``, plus the URL."""
        text = ("THIRD-PARTY: " if self.third_party else "") + self.title
        return text + (f" <{self.url}>" if self.url else "")


@dataclass(frozen=True)
class Price:
    """One instance type's hourly price and where it comes from.

    Attributes:
        instance_type: SageMaker instance type.
        usd_per_hour: Price of one instance-hour (in the table's currency).
        source: Its source.
        as_of: When the rate was valid (a date or a range).
        note: Caveats (e.g. a price change after ``as_of``).
    """

    instance_type: str
    usd_per_hour: float
    source: PriceSource
    as_of: str
    note: str = ""

    def citation(self, currency: str = "USD") -> str:
        """One line: rate, date, source (third-party labelled), caveat."""
        text = f"{self.instance_type}: {self.usd_per_hour:g} {currency}/hour, as of {self.as_of}; source: {self.source.label()}"
        return text + (f". Note: {self.note}" if self.note else "")


@dataclass(frozen=True)
class PriceTable:
    """Hourly prices per instance type, each with its source and date.

    Attributes:
        prices: Instance type → price per instance-hour (the rows' rates).
        currency: ISO currency code.
        source: The sources, in one line (for results files).
        as_of: The span of the rows' dates, in one line.
        region: AWS region the prices apply to.
        rows: Instance type → :class:`Price`.
        not_priced: Instance type (or glob such as ``ml.g6e.*``) → why it has no price.
        offer: What is priced (``SageMaker real-time inference, on-demand``).
        path: The file read.
    """

    prices: dict[str, float]
    currency: str
    source: str
    as_of: str
    region: str = ""
    rows: dict[str, Price] = field(default_factory=dict)
    not_priced: dict[str, str] = field(default_factory=dict)
    offer: str = ""
    path: Path = DEFAULT_PRICES

    def price(self, instance_type: str) -> Price | None:
        """Return the row for ``instance_type``, or None when the table has no rate for it."""
        return self.rows.get(instance_type)

    def missing_reason(self, instance_type: str) -> str:
        """Why ``instance_type`` has no price (the file's ``not_priced`` entry, or "not in the table")."""
        for pattern, reason in self.not_priced.items():
            if fnmatch.fnmatchcase(instance_type, pattern):
                return f"{self.path.name} has no rate for {instance_type}: {reason}"
        return f"{self.path.name} has no rate for {instance_type} (not in the table)"

    def hourly(self, instance_type: str) -> float:
        """Price per hour of ``instance_type``.

        Raises:
            KeyError: For an instance type not in the table, naming why and the known ones.
        """
        row = self.rows.get(instance_type)
        if row is None:
            known = ", ".join(sorted(self.rows))
            raise KeyError(
                f"no price for instance_type {instance_type!r}: {self.missing_reason(instance_type)}. "
                f"Priced: {known}. Add a row with its source and date to {self.path}"
            )
        return row.usd_per_hour

    def citation(self, instance_type: str | None = None) -> str:
        """One line for reports: the row's rate, date and source; without a type, the table's scope."""
        scope = f"{self.currency} per instance-hour, {self.offer or 'SageMaker'}, {self.region or 'region not stated'}"
        if instance_type is None:
            return f"{scope}, as of {self.as_of}. Sources: {self.source}"
        row = self.rows.get(instance_type)
        if row is None:
            return f"{scope}. {self.missing_reason(instance_type)}; costs are n/a."
        return f"{scope}. {row.citation(self.currency)}"


def load_prices(path: Path | str | None = None) -> PriceTable:
    """Read a price table (``tuning/prices.json`` by default).

    Raises:
        PriceError: The file is missing, not JSON, or an entry is invalid; every problem is named.
    """
    file = Path(path) if path is not None else DEFAULT_PRICES
    try:
        data: Any = json.loads(file.read_text())
    except FileNotFoundError:
        raise PriceError(f"price file {file}: no such file") from None
    except IsADirectoryError:
        raise PriceError(f"price file {file}: is a folder; give the prices.json file") from None
    except json.JSONDecodeError as error:
        raise PriceError(f"price file {file}: not JSON ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PriceError(f"price file {file}: cannot be read ({error})") from None
    if not isinstance(data, dict):
        raise PriceError(f"price file {file}: expected a JSON object (got {type(data).__name__})")
    if data.get("schema_version", 1) == 1:
        data = _upgrade_v1(file, data)
    problems: list[str] = []
    for key in ("currency", "sources", "prices"):
        if key not in data:
            problems.append(f"missing key {key!r}")
    if problems:
        raise PriceError(f"price file {file}: " + "; ".join(problems))
    sources = _sources(data["sources"], problems)
    rows: dict[str, Price] = {}
    if not isinstance(data["prices"], dict):
        problems.append(f"prices must be an object (got {type(data['prices']).__name__})")
    else:
        for instance_type, row in data["prices"].items():
            price = _row(instance_type, row, sources, problems)
            if price is not None:
                rows[instance_type] = price
    not_priced = data.get("not_priced", {})
    if not isinstance(not_priced, dict) or not all(isinstance(v, str) for v in not_priced.values()):
        problems.append("not_priced must map instance types (or globs) to reasons")
        not_priced = {}
    if problems:
        raise PriceError(f"price file {file}: " + "; ".join(problems))
    dates = sorted({day.strip() for r in rows.values() for day in r.as_of.split('..')})  # a row's as_of: a date or 'from .. to'
    return PriceTable(
        prices={t: r.usd_per_hour for t, r in rows.items()},
        currency=str(data["currency"]),
        source="; ".join(s.label() for s in sources.values()),
        as_of=f"{dates[0]} to {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "n/a"),
        region=str(data.get("region", "")),
        rows=rows,
        not_priced=dict(not_priced),
        offer=str(data.get("offer", "")),
        path=file,
    )


def _upgrade_v1(file: Path, data: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("currency", "source", "as_of", "prices") if k not in data]
    if missing:
        raise PriceError(f"price file {file}: missing key(s) {missing}")
    prices = data["prices"]
    if not isinstance(prices, dict):
        raise PriceError(f"price file {file}: prices must be an object (got {type(prices).__name__})")
    return {
        **data,
        "schema_version": 2,
        "sources": {"file": {"title": str(data["source"]), "third_party": True, "read": str(data["as_of"])}},
        "prices": {t: {"usd_per_hour": v, "source": "file", "as_of": str(data["as_of"])} for t, v in prices.items()},
    }


def _sources(value: Any, problems: list[str]) -> dict[str, PriceSource]:
    out: dict[str, PriceSource] = {}
    if not isinstance(value, dict):
        problems.append(f"sources must be an object (got {type(value).__name__})")
        return out
    for key, entry in value.items():
        if not isinstance(entry, dict) or not str(entry.get("title") or "").strip():
            problems.append(f"sources.{key} must be an object with a non-empty title")
            continue
        if not isinstance(entry.get("third_party"), bool):
            problems.append(f"sources.{key}.third_party must be true or false (got {entry.get('third_party')!r})")
            continue
        out[key] = PriceSource(
            id=key,
            title=str(entry["title"]),
            url=entry.get("url") or None,
            publisher=str(entry.get("publisher", "")),
            third_party=entry["third_party"],
            read=str(entry.get("read", "")),
        )
    return out


def _row(instance_type: str, row: Any, sources: dict[str, PriceSource], problems: list[str]) -> Price | None:
    where = f"prices.{instance_type}"
    if parse_instance_type(instance_type) is None:
        problems.append(f"{where}: not a SageMaker instance type like 'ml.g4dn.xlarge'")
        return None
    if not isinstance(row, dict):
        problems.append(f"{where} must be an object with usd_per_hour, source and as_of (got {row!r})")
        return None
    rate = row.get("usd_per_hour")
    ok = True
    if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0):
        problems.append(f"{where}.usd_per_hour must be a number > 0 (got {rate!r})")
        ok = False
    source = sources.get(str(row.get("source")))
    if source is None:
        problems.append(f"{where}.source must be one of the sources ({', '.join(sources) or 'none'}) (got {row.get('source')!r})")
        ok = False
    as_of = row.get("as_of")
    if not (isinstance(as_of, str) and as_of.strip()):
        problems.append(f"{where}.as_of must say when the rate was valid (got {as_of!r})")
        ok = False
    if not ok or source is None or rate is None:
        return None
    return Price(instance_type, float(rate), source, str(as_of), str(row.get("note", "")))
