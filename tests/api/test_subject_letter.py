"""The 个人信息查阅答复函 (api/subject_letter.py) is laid out in the reports' subset faces:
WeasyPrint handed the whole installed CJK collection costs some 250 MB inside the API
server per letter (docs/reports.md "Fonts in the PDF")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from api.subject_letter import letter_pdf


def test_the_letter_embeds_only_the_subset_faces(tmp_path: Path) -> None:
    pdffonts = shutil.which("pdffonts")
    assert pdffonts is not None, "poppler-utils is needed (make installs it)"
    answer = {"from": "2026-06-01", "to": "2026-06-30", "subject_erased": False,
              "tree_size": 0, "accesses": []}  # fmt: skip
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(letter_pdf("320102198001010011", answer, "苏高新网信〔2026〕1号"))
    listed = subprocess.run([pdffonts, str(pdf)], capture_output=True, check=True, text=True)
    names = [line.split()[0] for line in listed.stdout.splitlines()[2:]]
    cjk = [name for name in names if "CJK" in name]
    assert cjk and all("GovLedger" in name for name in cjk), names
