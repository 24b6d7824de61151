"""Locate the shared spec vectors (``/work/shared/vectors`` beside the repo).

If they are absent a test skips with the reason, except on CI (``CI=true``)
where a missing vector set is a failure: conformance must not silently vanish.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.conftest import SHARED_DIR

VECTORS_ROOT = SHARED_DIR / "vectors"


def _missing(path: Path) -> NoReturn:
    reason = f"shared test vectors not found at {path}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: vectors are required)")
    pytest.skip(reason)


def vector_path(*parts: str) -> Path:
    """A file or directory under the shared vectors; skip (fail on CI) if absent."""
    path = VECTORS_ROOT.joinpath(*parts)
    if not path.exists():
        _missing(path)
    return path


def load_json(path: Path) -> dict[str, Any]:
    """Parse one vector file; skip (fail on CI) if it is absent (or is a directory)."""
    if not path.is_file():
        _missing(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a JSON object"
    return data


def json_cases(base: tuple[str, ...], subdir: str) -> list[Any]:
    """pytest params, one per ``*.json`` under ``base/subdir``, id = path relative to ``base``.

    Evaluated at collection time, so it must not skip: when the directory is
    absent (or empty) it yields one placeholder case whose test then skips or
    fails through :func:`load_json`.
    """
    root = VECTORS_ROOT.joinpath(*base)
    files = sorted((root / subdir).rglob("*.json")) if (root / subdir).is_dir() else []
    if not files:
        return [pytest.param(root / subdir, id=f"{subdir}/<no vectors>")]
    return [pytest.param(path, id=path.relative_to(root).as_posix()) for path in files]
