"""The input contract: the bounds of every value a fact may carry (docs/facts.md §6).

One place says what the API, ``govledger import`` and the Python API accept,
so the three refuse the same things (issue 13 item 3): a value outside these
bounds is refused before anything is written, and no value inside them can
stop a reader later (an instant whose UTC conversion overflows, a count past
a 64-bit column, a lone surrogate the UTF-8 encoder rejects, a 20 MB id).

Two layers:

* **static** bounds, the same for every ledger: types, lengths, characters,
  counts, instant syntax and the ledger's absolute range. The API's models and
  the importer's parser call these functions (pydantic only wraps them).
* **configured** bounds, :class:`TimeBounds`: the earliest business time (the
  plan's era) and the clock skew past which a business time is in the future.
  ``GovLedger`` applies them to every command; the importer applies the same
  ones before writing anything.

Each refusal is a :class:`BoundsError` (a ``DomainError``) naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

from ledger.domain.calendar import CHINA_STANDARD_TIME
from ledger.domain.errors import DomainError, ErrorCode

# -- static bounds -----------------------------------------------------------------

MAX_TEXT = 2_000  # characters of any text (ids, names, purposes, reasons)
# characters of an access's platform event id and accessor id, which the views index:
# 512 characters of at most 4 UTF-8 bytes fit a B-tree row (projections.set_aside), so
# every access the contract accepts is judged by the views, none is set aside.
MAX_ID = 512
MAX_CODE = 64  # characters of a code (department, resource)
CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"
MAX_LIST = 500  # elements of any list (items, codes, ids)
MAX_ROW_COUNT = 10**12  # rows of one access: far above any real answer, far below 2**63
MAX_FEN = 10**15  # 10 trillion yuan in 分: below 2**63, above any district budget
MAX_INT = MAX_FEN  # any other integer a fact carries
# A ledger position or tree size: the stores keep it as a signed 64-bit integer.
MAX_POSITION = 2**63 - 1

# Instants: the ledger's absolute range. The configured earliest business time
# (TimeBounds) is never before FIRST_INSTANT; nothing may be at or after LAST_INSTANT.
FIRST_INSTANT = datetime(1970, 1, 1, tzinfo=CHINA_STANDARD_TIME)
LAST_INSTANT = datetime(2100, 1, 1, tzinfo=CHINA_STANDARD_TIME)
# Content dates (approval_date, publish_date, a request's period): not business time.
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2100, 12, 31)

# What the API's models strip from both ends of a text (pydantic-core's trim: the
# Unicode White_Space property), so that the importer strips exactly the same.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Refused anywhere in a text: C0 controls but TAB, LF, CR; DEL; lone surrogates
# (no UTF-8 for them: the encoder of the ledger row would fail).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_CODE = re.compile(CODE_PATTERN)
# RFC 3339 date-time with an offset; at most 6 fractional digits (microseconds).
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEX = "[0-9A-Fa-f]"
_UUID = re.compile(f"{_HEX}{{8}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{4}}-?{_HEX}{{12}}")


class BoundsError(DomainError):
    """A value outside the input contract; ``field`` names it."""

    def __init__(self, field: str, problem: str, code: ErrorCode = ErrorCode.INVALID_VALUE):
        super().__init__(code, f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def plain_chars(value: str) -> bool:
    """No forbidden character in ``value`` (the cheap form of :func:`check_chars`)."""
    return _FORBIDDEN.search(value) is None


@lru_cache(maxsize=4096)
def is_code(value: str) -> bool:
    """Whether ``value`` is a code; cached: a batch names few departments and resources."""
    return len(value) <= MAX_CODE and _CODE.fullmatch(value) is not None


def within_range(moment: datetime) -> bool:
    """The cheap form of :func:`in_range` (a year well inside needs no aware comparison)."""
    offset = moment.utcoffset()
    if offset is None or offset.seconds % 60 or offset.microseconds:
        return False  # RFC 3339 offsets are whole minutes
    year = moment.year
    if _SAFE_YEARS[0] <= year <= _SAFE_YEARS[1]:
        return True
    return FIRST_INSTANT.year - 1 <= year <= LAST_INSTANT.year and (
        FIRST_INSTANT <= moment < LAST_INSTANT
    )


# Years whose every instant, at any offset, is inside [FIRST_INSTANT, LAST_INSTANT).
_SAFE_YEARS = (FIRST_INSTANT.year + 1, LAST_INSTANT.year - 2)


def check_chars(value: str, field: str) -> str:
    """``value`` if it holds no forbidden character (NUL, controls, lone surrogates)."""
    found = _FORBIDDEN.search(value)
    if found is not None:
        raise BoundsError(field, f"character U+{ord(found.group()):04X} is not allowed")
    return value


def text(value: object, field: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str:
    """A JSON string, stripped as the API strips it, within length and characters."""
    if not isinstance(value, str):
        raise BoundsError(field, f"expected a string, got {_type_name(value)}")
    stripped = value.strip(WHITESPACE)
    if len(stripped) > max_length:
        raise BoundsError(field, f"longer than {max_length} characters")
    if required and not stripped:
        raise BoundsError(field, "blank")
    return check_chars(stripped, field)


def optional_text(value: object, field: str) -> str | None:
    return None if value is None else text(value, field, required=False)


def code(value: object, field: str) -> str:
    """A department or resource code: 1-64 of ``A-Z a-z 0-9 _ . -``."""
    found = text(value, field, max_length=MAX_CODE)
    if _CODE.fullmatch(found) is None:
        raise BoundsError(field, f"{found!r} is not a code (letters, digits, _ . -)")
    return found


def text_list(
    value: object, field: str, *, max_items: int = MAX_LIST, distinct: bool = True
) -> tuple[str, ...]:
    """A non-empty JSON array of non-blank, distinct strings."""
    if not isinstance(value, list):
        raise BoundsError(field, f"expected an array of strings, got {_type_name(value)}")
    if not value:
        raise BoundsError(field, "empty")
    if len(value) > max_items:
        raise BoundsError(field, f"more than {max_items} elements")
    result = tuple(text(element, field) for element in value)
    if distinct and len(set(result)) != len(result):
        raise BoundsError(field, "repeated element")
    return result


def count(value: object, field: str, *, maximum: int) -> int:
    """A whole number 0..maximum (JSON ``true`` and ``5.0`` are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BoundsError(field, f"expected a whole number, got {_type_name(value)}")
    if not 0 <= value <= maximum:
        raise BoundsError(field, f"{value} is not within 0..{maximum}")
    return value


def uuid(value: object, field: str) -> UUID:
    """A UUID as 32 hex digits, hyphenated 8-4-4-4-12 or not."""
    if not isinstance(value, str):
        raise BoundsError(field, f"expected a UUID string, got {_type_name(value)}")
    if _UUID.fullmatch(value) is None:
        raise BoundsError(field, f"{value[:60]!r} is not a UUID")
    return UUID(value)


def optional_uuid(value: object, field: str) -> UUID | None:
    return None if value is None else uuid(value, field)


def instant(value: object, field: str) -> datetime:
    """An RFC 3339 date-time with an offset, within the ledger's absolute range."""
    if isinstance(value, datetime):
        return in_range(value, field)
    if not isinstance(value, str):
        raise BoundsError(field, f"expected an RFC 3339 date-time string, got {_type_name(value)}")
    if INSTANT.fullmatch(value) is None:
        raise BoundsError(
            field,
            f"{value[:60]!r} is not an RFC 3339 date-time with an offset "
            "(e.g. 2026-03-02T09:15:27+08:00)",
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BoundsError(field, f"{value[:60]!r} is not a valid date-time") from None
    return in_range(moment, field)


def in_range(moment: datetime, field: str) -> datetime:
    """An aware datetime within [1970-01-01, 2100-01-01) China Standard Time.

    Compared year first: an aware comparison near ``datetime.min`` or ``max`` with
    a large offset would overflow. Whole seconds of the offset only (RFC 3339).
    """
    offset = moment.utcoffset()
    if offset is None:
        raise BoundsError(field, "has no UTC offset", ErrorCode.NAIVE_DATETIME)
    if offset % timedelta(minutes=1):
        raise BoundsError(field, "UTC offset is not whole minutes")
    if not within_range(moment):
        raise BoundsError(
            field,
            f"{moment.isoformat()} is outside the ledger's range "
            f"[{FIRST_INSTANT.date()}, {LAST_INSTANT.date()})",
            ErrorCode.TIME_OUT_OF_RANGE,
        )
    return moment


def content_date(value: object, field: str) -> date:
    """A calendar date YYYY-MM-DD within 1970-01-01 … 2100-12-31."""
    if isinstance(value, datetime):
        raise BoundsError(field, "expected a date, got a date-time")
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and _DATE.fullmatch(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise BoundsError(field, f"{value!r} is not a valid date") from None
    else:
        raise BoundsError(field, f"expected a date YYYY-MM-DD, got {str(value)[:60]!r}")
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise BoundsError(
            field, f"{parsed} is outside {FIRST_DATE} … {LAST_DATE}", ErrorCode.TIME_OUT_OF_RANGE
        )
    return parsed


# -- configured bounds ----------------------------------------------------------------

DEFAULT_EARLIEST = datetime(2018, 1, 1, tzinfo=CHINA_STANDARD_TIME)
DEFAULT_CLOCK_SKEW = timedelta(seconds=300)


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """When a business time may be: from ``earliest`` (the plan's era, 2018 by
    default) up to the ledger's clock plus ``clock_skew``."""

    earliest: datetime = DEFAULT_EARLIEST
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW

    def __post_init__(self) -> None:
        in_range(self.earliest, "earliest business time")
        if self.clock_skew < timedelta(0):
            raise ValueError("clock_skew must be >= 0")

    @classmethod
    def of(cls, earliest_date: date, clock_skew_seconds: int) -> TimeBounds:
        """From the settings: a CST calendar day and a number of seconds."""
        earliest = datetime(
            earliest_date.year, earliest_date.month, earliest_date.day, tzinfo=CHINA_STANDARD_TIME
        )
        return cls(earliest, timedelta(seconds=clock_skew_seconds))

    def check_past(self, moment: datetime, field: str) -> datetime:
        """In the ledger's range and not before the earliest business time."""
        in_range(moment, field)
        if moment < self.earliest:
            raise BoundsError(
                field,
                f"{moment.isoformat()} is before the earliest business time "
                f"{self.earliest.isoformat()}",
                ErrorCode.TIME_OUT_OF_RANGE,
            )
        return moment

    def in_future(self, moment: datetime, now: datetime) -> bool:
        """Later than ``now`` plus the clock skew: not yet happened."""
        return moment > now + self.clock_skew

    def check(self, moment: datetime, field: str, now: datetime) -> datetime:
        """A person's business time: in range, and not in the future."""
        self.check_past(moment, field)
        if self.in_future(moment, now):
            raise BoundsError(
                field,
                f"{moment.isoformat()} is in the future (the ledger's clock says "
                f"{now.isoformat()}, clock skew {int(self.clock_skew.total_seconds())} s)",
                ErrorCode.TIME_IN_FUTURE,
            )
        return moment


# -- the values of a fact, whatever command made it ----------------------------------------


def check_value(value: Any, field: str) -> None:
    """Every text, number, time and list inside an event's fields, recursively.

    The last guard before the ledger (``GovLedger.save``): the Python API may be
    called with values no API model ever saw.
    """
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise BoundsError(field, f"longer than {MAX_TEXT} characters")
        check_chars(value, field)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            raise BoundsError(field, f"{value} is beyond ±{MAX_INT}")
    elif isinstance(value, date):
        # A datetime is a date too: an instant, else a content date.
        in_range(value, field) if isinstance(value, datetime) else content_date(value, field)
    else:
        _check_container(value, field)


def _check_container(value: Any, field: str) -> None:
    if isinstance(value, tuple | list | frozenset | set | dict):
        if len(value) > MAX_LIST:
            raise BoundsError(field, f"more than {MAX_LIST} elements")
        if isinstance(value, dict):
            for key, element in value.items():
                check_value(key, field)
                check_value(element, f"{field}.{key}")
        else:
            for element in value:
                check_value(element, field)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            check_value(getattr(value, name), f"{field}.{name}")
