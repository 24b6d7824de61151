"""Fixtures of the tamper suite (tests/security/test_tamper_*.py)."""

from tests.security.tamper_scene import scene_for

__all__ = ["scene_for"]
