"""个人信息查阅答复函: the answer to a person's request as a PDF letter in Chinese (issue 19).

docs/privacy.md "A person's request": the same answer as ``POST
/api/v1/subjects/accesses`` (ledger/subject_requests.py), laid out for the
person: each access with its time, department, system, resource, items,
purpose, grant and whether it was authorized, its ledger position, and an
appendix with each inclusion proof against the stated tree size and root, so
the letter can be checked against a signed checkpoint. The identifier is
masked (first six and last four characters); the letter is not stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from ledger.domain.calendar import CHINA_STANDARD_TIME
from projections.labels import ACCESS_REASONS
from projections.reports.fonts import CSS_FAMILIES

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm 16mm; }
body { font-family: {{ fonts }}; font-size: 10.5pt; line-height: 1.5; }
h1 { text-align: center; font-size: 16pt; letter-spacing: 2pt; }
table { width: 100%; border-collapse: collapse; font-size: 9pt; }
th, td { border: 0.5pt solid #555; padding: 2pt 3pt; vertical-align: top; }
.mono { font-family: monospace; font-size: 7pt; word-break: break-all; }
.sign { margin-top: 18pt; text-align: right; }
</style></head><body>
<h1>个人信息查阅答复函</h1>
{% if reference %}<p>文号：{{ reference }}</p>{% endif %}
<p>申请人身份证件号码：{{ masked }}</p>
<p>根据《中华人民共和国个人信息保护法》第四十四条、第四十五条，现将{{ start }}至{{ end }}期间
政务数据共享交换平台访问您个人信息的记录答复如下。</p>
{% if erased %}<p>您的个人信息已依法删除（《个人信息保护法》第四十七条）：
以下记录中的身份信息已不可读取，访问事实依法留存备查。</p>{% endif %}
{% if accesses %}
<p>上述期间内，共有 {{ accesses|length }} 次访问涉及您的个人信息：</p>
<table><tr><th>序号</th><th>访问时间</th><th>访问部门</th><th>业务系统</th><th>数据资源</th>
<th>信息项</th><th>用途</th><th>授权</th><th>是否经授权</th><th>台账位置</th></tr>
{% for a in accesses %}<tr><td>{{ loop.index }}</td><td>{{ a.time }}</td><td>{{ a.department }}</td>
<td>{{ a.system or "—" }}</td><td>{{ a.resource_code }}</td><td>{{ a.item_names|join("、") }}</td>
<td>{{ a.purpose or "未记录" }}</td><td>{{ "有" if a.grant_id else "无" }}</td>
<td>{{ a.verdict }}</td><td>{{ a.position }}</td></tr>
{% endfor %}</table>
{% else %}<p>上述期间内，台账中没有访问您个人信息的记录。</p>{% endif %}
<p>访问您个人信息的具体工作人员不在本函中列明；相关记录由审计和网信部门依法监督。
如对上述访问有异议，可向区委网信办提出。</p>
{% if accesses %}<h2 style="font-size:11pt">附录：包含性证明</h2>
<p>每条记录均可依 RFC 9162 以下列证明核验其在台账（树大小 {{ tree_size }}，根哈希
<span class="mono">{{ root }}</span>）中：</p>
<table><tr><th>台账位置</th><th>叶哈希</th><th>证明路径</th></tr>
{% for a in accesses %}<tr><td>{{ a.position }}</td><td class="mono">{{ a.leaf_hash }}</td>
<td class="mono">{{ a.proof|join(" ") }}</td></tr>{% endfor %}</table>{% endif %}
<p class="sign">区委网信办<br>{{ today }}</p>
</body></html>
"""

_environment = Environment(autoescape=select_autoescape(default=True), trim_blocks=True)


def mask(identifier: str) -> str:
    text = identifier.strip()
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def letter_html(identifier: str, answer: dict[str, Any], reference: str = "") -> str:
    """The letter of one answer (``api/routers/subjects.py``'s JSON)."""
    rows = []
    root = ""
    for a in answer["accesses"]:
        proof = a["inclusion_proof"]
        root = proof["root"]
        moment = datetime.fromisoformat(a["accessed_at"]).astimezone(CHINA_STANDARD_TIME)
        reasons = "、".join(ACCESS_REASONS.get(r, r) for r in a["reasons"])
        rows.append(
            {
                **a,
                "item_names": a["items"],  # not "items": a dict's method in Jinja
                "time": moment.strftime("%Y年%m月%d日 %H:%M"),
                "verdict": "是" if a["authorized"] else f"否（{reasons}）",
                "leaf_hash": proof["leaf_hash"],
                "proof": proof["proof"],
            }
        )
    return _environment.from_string(_TEMPLATE).render(
        fonts=Markup(CSS_FAMILIES),  # noqa: S704 - a constant of ours
        reference=reference,
        masked=mask(identifier),
        start=_day(answer["from"]),
        end=_day(answer["to"]),
        erased=answer["subject_erased"],
        accesses=rows,
        tree_size=answer["tree_size"],
        root=root,
        today=datetime.now(CHINA_STANDARD_TIME).strftime("%Y年%m月%d日"),
    )


def _day(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{int(year)}年{int(month)}月{int(day)}日"


def letter_pdf(identifier: str, answer: dict[str, Any], reference: str = "") -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - pango is loaded only when a PDF is asked for

    pdf: bytes = HTML(string=letter_html(identifier, answer, reference)).write_pdf()
    return pdf
