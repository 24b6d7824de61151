"""Declared records: what the plan asks a department or 区发改局 to state, one shape for all.

Seed 苏高新办〔2019〕2号 asks for facts that are each a statement about one subject
(a system, a department or a catalogue resource) made under a document reference
and in force from its business time until a later statement supersedes it
(docs/facts.md §11). They differ only in their content, so they share one
aggregate, :class:`Declaration`, and one command (ledger/commands/declarations.py):

- ``system_unit`` (§三(一)4 "杜绝以处室等内设机构名义存在的独立信息系统"): the
  internal division (处室) a system is kept under, ``""`` for none; 区发改局's
  finding from its 专项调查, so not the department's to clear (rule I8).
- ``self_inspection`` (§三(一)1 自查报告, 附件1 第1项): a department's
  self-inspection of its systems, sent to 区发改局 (rule I9).
- ``classified_protection`` (§三(五)17 "等级保护和分级保护备案情况"): whether a
  system stores or processes state secrets (涉密), its 分级保护 level and whether it
  is filed with the secrecy administration (rule I10).
- ``resource_cloud`` (§三(二)7 数据上云): whether a catalogue resource's data is
  held on the government cloud (rule I7, data).
- ``service_cloud`` (§三(二)8 服务上云): a department's list of public services and
  how many of them run on the government cloud (rule I7, services).

The natural id is (kind, subject, reference): the same declaration again is one
record, other content under the same reference is refused (``record_exists``).
The content's invariants are checked here, who may declare in the command.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import ErrorCode, require
from ledger.domain.obligations import natural_id
from ledger.domain.values import parse_enum


class DeclarationKind(StrEnum):
    SYSTEM_UNIT = "system_unit"  # 以处室名义存在的独立信息系统
    SELF_INSPECTION = "self_inspection"  # 自查报告
    CLASSIFIED_PROTECTION = "classified_protection"  # 分级保护
    RESOURCE_CLOUD = "resource_cloud"  # 数据上云
    SERVICE_CLOUD = "service_cloud"  # 服务上云


class ClassifiedLevel(StrEnum):
    """涉密等级 of a classified system (分级保护), named in pinyin: the English words
    for them differ from source to source."""

    MIMI = "mimi"  # 秘密
    JIMI = "jimi"  # 机密
    JUEMI = "juemi"  # 绝密


# The subject each kind is about, and the body field that names it.
SUBJECT_FIELD: dict[DeclarationKind, str] = {
    DeclarationKind.SYSTEM_UNIT: "system_id",
    DeclarationKind.SELF_INSPECTION: "department",
    DeclarationKind.CLASSIFIED_PROTECTION: "system_id",
    DeclarationKind.RESOURCE_CLOUD: "resource_code",
    DeclarationKind.SERVICE_CLOUD: "department",
}


def checked_content(kind: DeclarationKind, content: dict[str, Any]) -> dict[str, Any]:
    """The content of one declaration with its invariants checked (plain JSON values)."""
    if kind is DeclarationKind.CLASSIFIED_PROTECTION:
        level, filed = content.get("level"), content.get("filed", False)
        if content["classified"]:
            require(level is not None, ErrorCode.INVALID_VALUE, "a classified system needs level")
            level = parse_enum(ClassifiedLevel, str(level), "level").value
        else:
            require(
                level is None and not filed,
                ErrorCode.INVALID_VALUE,
                "level and filed apply to a classified system only",
            )
        return {"classified": content["classified"], "level": level, "filed": bool(filed)}
    if kind is DeclarationKind.SERVICE_CLOUD:
        require(
            content["on_cloud"] <= content["services"],
            ErrorCode.INVALID_VALUE,
            "on_cloud is more than services",
        )
    if kind is DeclarationKind.SELF_INSPECTION:
        content = {
            **content,
            "to_integrate": [str(s) for s in content.get("to_integrate", ())],
            "to_connect": [str(s) for s in content.get("to_connect", ())],
        }
    return dict(content)


class Declaration(Aggregate):
    """One declared record: ``kind`` about ``subject`` under ``reference``, from ``declared_at``."""

    class Declared(Aggregate.Created):
        actor: Actor
        kind: str
        subject: str
        reference: str
        content: dict[str, Any]
        evidence: str
        declared_at: datetime

    @staticmethod
    def create_id(kind: str, subject: str, reference: str) -> UUID:
        return natural_id("declaration", kind, subject, reference)

    @classmethod
    def declare(
        cls,
        actor: Actor,
        kind: DeclarationKind,
        subject: str,
        *,
        reference: str,
        content: dict[str, Any],
        evidence: str,
        declared_at: datetime,
    ) -> Declaration:
        return cls._create(
            cls.Declared,
            id=cls.create_id(kind.value, subject, reference),
            actor=actor,
            kind=kind.value,
            subject=subject,
            reference=reference,
            content=checked_content(kind, content),
            evidence=evidence,
            declared_at=declared_at,
        )

    @event(Declared)
    def __init__(
        self,
        *,
        actor: Actor,
        kind: str,
        subject: str,
        reference: str,
        content: dict[str, Any],
        evidence: str,
        declared_at: datetime,
    ) -> None:
        self.kind = kind
        self.subject = subject
        self.reference = reference
        self.content = dict(content)
        self.evidence = evidence
        self.declared_at = declared_at
