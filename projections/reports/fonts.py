"""The CJK faces a PDF embeds, cut down to the characters the document prints.

Why (issue #12 "Done when": every report's peak memory < 300 MB on a 200,000-access
ledger; docs/reports.md "Fonts in the PDF"): handed the system's Noto Sans CJK
collection (a 19 MB ``.ttc`` of ten faces sharing 65,535 CFF glyphs), WeasyPrint copies
the whole collection into Python once per face it uses (regular, bold, mono) and subsets
each copy with fontTools: on the 200,000-access demo the risk PDF peaked at 478 MB, and
its layout alone at 357 MB. A report prints some hundreds of distinct characters. So
before the layout each face the report uses is subset here, one after the other, to
exactly the characters of its HTML, and handed to WeasyPrint as an ``@font-face``
``data:`` URL under a family name of its own. Pango finds every glyph in these small
faces; the installed fonts stay the fallback for anything they lack (nothing, by
construction).

The faces are the Simplified Chinese ones (``Noto Sans CJK SC``), so the glyph forms
are the mainland standard's, as before; fontTools' default layout features are kept
(kerning, ligatures, locl, vertical forms). The family names keep "CJK": the PDF's font
names show it, and ``pdffonts`` in the tests looks for it.
"""

from __future__ import annotations

import base64
import gc
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The installed families the HTML asks for (HTML and SVG charts), best first.
CSS_FAMILIES = "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif"
MONO_FAMILIES = "'Noto Sans Mono CJK SC', monospace"
# The PDF's own subset faces, declared by :func:`font_faces_css`, ahead of those.
SANS = "GovLedger Sans CJK SC"
MONO = "GovLedger Mono CJK SC"
PDF_FAMILIES = f"'{SANS}', {CSS_FAMILIES}"
PDF_MONO_FAMILIES = f"'{MONO}', {MONO_FAMILIES}"

# Printable ASCII and what WeasyPrint may add itself (ellipsis, hyphen), whatever the HTML.
ALWAYS = frozenset(chr(c) for c in range(0x20, 0x7F)) | frozenset("\u2026\u2010\u00a0\u3000")


@dataclass(frozen=True)
class Face:
    """A face of an installed font file, and the CSS family and weight it serves as."""

    css_family: str
    weight: int
    filename: str
    face_family: str  # the face's own family (name ID 1) inside the file


# Per (family, weight), the candidates best first: Debian's fonts-noto-cjk, then
# fonts-wqy-zenhei (no bold face: pango emboldens the regular one).
FACES = (
    Face(SANS, 400, "NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    Face(SANS, 400, "wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
    Face(SANS, 700, "NotoSansCJK-Bold.ttc", "Noto Sans CJK SC"),
    Face(MONO, 400, "NotoSansCJK-Regular.ttc", "Noto Sans Mono CJK SC"),
    Face(MONO, 400, "wqy-zenhei.ttc", "WenQuanYi Zen Hei Mono"),
)


@cache
def installed_fonts() -> dict[str, Path]:
    """The system's font files by file name (fontconfig's directories, read once)."""
    from matplotlib import font_manager  # noqa: PLC0415 - only when a chart or PDF is made

    return {Path(f).name: Path(f) for f in font_manager.findSystemFonts()}


def font_faces_css(text: str, *, mono: bool) -> str:
    """``@font-face`` rules for the sans faces (and the mono one if ``mono``), each the
    first installed candidate of :data:`FACES` subset to the characters of ``text``.

    A slot with no installed candidate gets no rule: its text falls back to the
    installed fonts the families name after the subset's.
    """
    characters = "".join(sorted(set(text) | ALWAYS))
    wanted = {SANS} | ({MONO} if mono else set())
    done: set[tuple[str, int]] = set()
    rules = []
    for face in FACES:
        slot = (face.css_family, face.weight)
        path = installed_fonts().get(face.filename)
        if face.css_family not in wanted or slot in done or path is None:
            continue
        data = subset_face(path, face.face_family, characters)
        gc.collect()  # the parsed collection is cyclic: free it before the next face
        if data is None:
            continue
        done.add(slot)
        rules.append(
            f"@font-face {{ font-family: '{face.css_family}'; font-weight: {face.weight}; "
            f"src: url(data:font/otf;base64,{base64.b64encode(data).decode()}); }}"
        )
    return "\n".join(rules)


def subset_face(path: Path, family: str, characters: str) -> bytes | None:
    """The face named ``family`` of the font file at ``path`` (a collection or a single
    face) with only the glyphs of ``characters``; None if the file has no such face."""
    from fontTools import subset  # noqa: PLC0415
    from fontTools.ttLib import TTCollection, TTFont  # noqa: PLC0415

    number = -1
    if path.suffix.lower() == ".ttc":
        collection = TTCollection(str(path), lazy=True)
        try:
            names = [face["name"].getDebugName(1) for face in collection.fonts]
        finally:
            collection.close()
        if family not in names:
            return None
        number = names.index(family)
    font = TTFont(str(path), fontNumber=number, lazy=True)
    try:
        if number < 0 and font["name"].getDebugName(1) != family:
            return None
        options = subset.Options()
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.recalc_timestamp = False  # the same report, the same bytes
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    finally:
        font.close()
    return out.getvalue()
