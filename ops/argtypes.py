"""Argument types shared by the ``govledger`` subcommands: one wording for one mistake."""

from __future__ import annotations

import argparse


def whole_number(text: str, *, minimum: int) -> int:
    """An integer ``>= minimum``; accepts ``1_000`` and ``1,000`` as people write them."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}")
    return value


def position(text: str) -> int:
    """A ledger position or tree size: positions start at 1."""
    return whole_number(text, minimum=1)


def count(text: str) -> int:
    """A number of things to make, possibly none."""
    return whole_number(text, minimum=0)
