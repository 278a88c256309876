"""Printable PDFs: the case file and the termination report (berita acara terminasi),
laid out like an Indonesian government document: the office's letterhead (kop surat), a
numbered title, the legal basis, tables for the data, signature blocks with names and NIP
PPPK under a place and date ("Wamena, 21 November 2026"), and on every page the case's
audit chain head with a QR code holding the case number and that hash, so a printed page
can be checked against the system.

Fonts are the Bitstream Vera TTFs that ship inside the reportlab package (Unicode, so
names with any letters print), registered once; nothing is downloaded.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
import segno
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..extensions import db
from ..i18n import formatting as fmt
from ..models import Case, User, mask_nik
from ..services.runtime import engine
from .letterhead import Letterhead, current_letterhead

logger = logging.getLogger(__name__)

ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

_FONTS_READY = False


def _register_fonts() -> None:
    global _FONTS_READY
    if _FONTS_READY:
        return
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont("Vera", str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont("Vera-Bold", str(folder / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily("Vera", normal="Vera", bold="Vera-Bold", italic="Vera", boldItalic="Vera-Bold")
    _FONTS_READY = True


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()

    def text(name: str, font: str, size: float, leading: float, *, centred: bool = False) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base["BodyText"], fontName=font, fontSize=size, leading=leading,
                              **({"alignment": 1} if centred else {}))

    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName="Vera-Bold", fontSize=15),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName="Vera-Bold", fontSize=11, spaceBefore=4,
                             spaceAfter=4),
        "body": text("b", "Vera", 9.5, 12),
        "small": text("s", "Vera", 8, 10),
        "head1": text("k1", "Vera-Bold", 12.5, 15, centred=True),
        "head2": text("k2", "Vera-Bold", 11, 13, centred=True),
        "head3": text("k3", "Vera", 8.5, 10.5, centred=True),
        "centre": text("c", "Vera", 9.5, 12, centred=True),
        "small_centre": text("sc", "Vera", 7.5, 9.5, centred=True),
        "sign": text("sg", "Vera", 9, 11.5, centred=True),
    }


def qr_payload(case: Case) -> str:
    """What the QR code on a printed page holds: the case number and its audit chain head
    (the number of events and the hash of the latest), to compare with the system's."""
    return f"CASEFLOW;{case.number};{case.audit_seq};{case.audit_hash or ''}"


def _draw_qr(canvas, text: str, x: float, y: float, size: float) -> None:
    matrix = segno.make(text, error="m").matrix
    cell = size / (len(matrix) + 2)  # a quiet zone of one module each side
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for row_index, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                canvas.rect(x + (column + 1) * cell, y + size - (row_index + 2) * cell, cell, cell, stroke=0, fill=1)


@dataclass(frozen=True)
class SignatureImage:
    """A signature drawn on the tablet (PNG or JPEG, already decrypted by the caller, who
    checked the printer may open the case) and when it was captured."""

    content: bytes
    captured_at: datetime


def _signature_flowable(mark: SignatureImage, width: float, height: float) -> Image | None:
    """The image scaled into the signing space, its proportions kept; None if it can't be read."""
    try:
        pixels_wide, pixels_high = ImageReader(io.BytesIO(mark.content)).getSize()
    except Exception as exc:  # noqa: BLE001 - whatever the image library refuses prints as an empty line
        logger.warning("a signature image could not be read: %s", exc)
        return None
    scale = min(width / max(pixels_wide, 1), height / max(pixels_high, 1))
    return Image(io.BytesIO(mark.content), width=pixels_wide * scale, height=pixels_high * scale)


class _Writer:
    def __init__(self, zone: str, locale: str = "id", case: Case | None = None,
                 letterhead: Letterhead | None = None):
        _register_fonts()
        self.zone = zone
        self.locale = locale
        self.case = case
        self.styles = _styles()
        self.story: list[Any] = []
        if letterhead is not None:
            self.letterhead(letterhead)

    def time(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return fmt.moment(value, self.zone, self.locale)

    def day(self, value: Any) -> str:
        return fmt.short_date(value, self.locale, self.zone) if value else "—"

    def letterhead(self, head: Letterhead) -> None:
        """The kop surat: logo left, ministry, office and address centred, a double rule."""
        lines = [Paragraph(escape(head.ministry), self.styles["head1"]),
                 Paragraph(escape(head.office), self.styles["head2"]),
                 Paragraph(escape(head.address), self.styles["head3"])]
        logo: Any = ""
        if head.logo is not None:
            width, height = ImageReader(str(head.logo)).getSize()
            logo = Image(str(head.logo), width=20 * mm, height=20 * mm * height / max(width, 1))
        table = Table([[logo, lines, ""]], colWidths=(24 * mm, 126 * mm, 24 * mm))
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                   ("LINEBELOW", (0, 0), (-1, 0), 2, colors.black),
                                   ("BOTTOMPADDING", (0, 0), (-1, 0), 6)]))
        self.story.append(table)
        self.story.append(Spacer(1, 1.2 * mm))
        rule = Table([[""]], colWidths=[174 * mm], rowHeights=[0.6])
        rule.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.6, colors.black)]))
        self.story.append(rule)
        self.story.append(Spacer(1, 4 * mm))

    def numbered_title(self, title: str, number: str, legal_basis: str | None) -> None:
        self.story.append(Paragraph(f"<u>{escape(title.upper())}</u>", self.styles["head2"]))
        self.story.append(Paragraph(escape(_("Number: %(number)s", number=number)), self.styles["centre"]))
        if legal_basis:
            self.story.append(Spacer(1, 2 * mm))
            self.story.append(Paragraph(escape(_("Legal basis: %(basis)s", basis=legal_basis)), self.styles["small"]))
        self.story.append(Spacer(1, 4 * mm))

    def signatures(self, place_and_date: str, blocks: list[tuple[str, str, str | None]],
                   marks: dict[int, SignatureImage | None] | None = None) -> None:
        """Signature blocks side by side: role, space to sign, the name underlined and the
        NIP PPPK (or another identification) under it; the place and date above the last.
        `marks` puts a signature captured on the tablet into a block's signing space (by the
        block's position), with the day it was captured under the name."""
        width = 174 * mm / len(blocks)
        marks = {index: mark for index, mark in (marks or {}).items() if mark is not None}
        top = [""] * (len(blocks) - 1) + [Paragraph(escape(place_and_date), self.styles["sign"])]
        roles = [Paragraph(escape(role), self.styles["sign"]) for role, _name, _id in blocks]
        space: list[Any] = [""] * len(blocks)
        captured: list[Any] = [""] * len(blocks)
        for index, mark in marks.items():
            image = _signature_flowable(mark, width - 10 * mm, 15 * mm)
            if image is not None:
                space[index] = image
                captured[index] = Paragraph(escape(_("Signed on the tablet on %(day)s", day=fmt.long_date(mark.captured_at, self.locale, self.zone))),
                                            self.styles["small_centre"])
        names = [Paragraph(f"<b><u>{escape(name or '……………………')}</u></b>", self.styles["sign"])
                 for _role, name, _id in blocks]
        ids = [Paragraph(escape(identification or ""), self.styles["sign"]) for _r, _n, identification in blocks]
        rows = [top, roles, space, names, ids] + ([captured] if any(captured) else [])
        table = Table(rows, colWidths=[width] * len(blocks), rowHeights=[None, None, 16 * mm] + [None] * (len(rows) - 3))
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                   ("VALIGN", (0, 2), (-1, 2), "BOTTOM")]))
        self.story.append(Spacer(1, 3 * mm))
        self.story.append(KeepTogether([table]))

    def p(self, text: Any, style: str = "body") -> None:
        self.story.append(Paragraph(escape(str(text or "—")).replace("\n", "<br/>"), self.styles[style]))

    def title(self, text: str) -> None:
        self.story.append(Paragraph(escape(text), self.styles["title"]))

    def h2(self, text: str) -> None:
        self.story.append(Paragraph(escape(text), self.styles["h2"]))

    def pairs(self, rows: list[tuple[str, Any]]) -> None:
        self.table([[k, v] for k, v in rows], widths=(55 * mm, 115 * mm), header=False)

    def table(self, rows: list[list[Any]], widths: tuple[float, ...] | None = None, header: bool = True) -> None:
        cells = [[Paragraph(escape(str(v if v is not None else "")).replace("\n", "<br/>"), self.styles["small"])
                  for v in row] for row in rows]
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef3")))
        table.setStyle(TableStyle(style))
        self.story.append(table)
        self.story.append(Spacer(1, 4 * mm))

    def build(self, title: str) -> bytes:
        buffer = io.BytesIO()
        case = self.case
        document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Caseflow",
                                     leftMargin=18 * mm, rightMargin=18 * mm, topMargin=14 * mm,
                                     bottomMargin=30 * mm if case is not None else 16 * mm)
        chain = (_("Audit chain: %(events)s events, latest hash %(hash)s", events=case.audit_seq,
                   hash=case.audit_hash or "—") if case is not None else "")

        def footer(canvas, doc):
            canvas.saveState()
            canvas.setFont("Vera", 7.5)
            canvas.drawString(18 * mm, 9 * mm, _("Caseflow · %(title)s · page %(page)s", title=title, page=doc.page))
            if case is not None:
                canvas.setFont("Vera", 6.5)
                words = chain + " " + _("Scan the code or compare the hash in Caseflow's integrity check to "
                                        "verify this page.")
                for number, line in enumerate(simpleSplit(words, "Vera", 6.5, 145 * mm)[:4]):
                    canvas.drawString(18 * mm, (24 - 3 * number) * mm, line)
                _draw_qr(canvas, qr_payload(case), A4[0] - 18 * mm - 22 * mm, 6 * mm, 22 * mm)
            canvas.restoreState()

        document.build(self.story, onFirstPage=footer, onLaterPages=footer)
        return buffer.getvalue()


def document_number(code: str, case: Case, day: datetime) -> str:
    """'BA-TRM/91-2026-000012/XI/2026': the kind of document, the case, the month in Roman
    numerals and the year, as Indonesian offices number their letters."""
    return f"{code}/{case.number}/{ROMAN_MONTHS[day.month - 1]}/{day.year}"


def _nip(user: User | None) -> str | None:
    if user is None:
        return None
    return _("NIP PPPK %(nip)s", nip=user.nip_pppk) if user.nip_pppk else _("NIP PPPK —")


def _place(head: Letterhead, case: Case) -> str:
    return head.city or case.province.name


def _summary(w: _Writer, case: Case, locale: str) -> None:
    state = engine(case.workflow).definition.states[case.state].title(locale)
    client = case.client
    w.pairs([
        (_("Case number"), case.number),
        (_("Stage"), state),
        (_("Client"), client.full_name if not client.anonymised_at else _("(anonymised)")),
        (_("NIK (masked)"), mask_nik(client.nik)),
        (_("PPKS category"), case.ppks_category.name(locale)),
        (_("Province"), case.province.name),
        (_("Facilitator"), case.facilitator.full_name),
        (_("Recorded"), w.time(case.opened_at)),
        (_("Closed"), w.time(case.closed_at)),
    ])
    if case.summary:
        w.p(case.summary)


def _client_block(case: Case) -> tuple[str, str, str | None]:
    client = case.client
    if client.anonymised_at:
        return _("Client or guardian"), "", None
    if client.guardian_name:
        relationship = f" ({client.guardian_relationship})" if client.guardian_relationship else ""
        return _("Guardian of the client"), client.guardian_name, _("for %(name)s", name=client.full_name) + relationship
    return _("Client"), client.full_name, None


def case_pdf(case: Case, *, locale: str, zone: str, names: Any, now: datetime | None = None,
             client_signature: SignatureImage | None = None) -> bytes:
    """The case file: summary, assessment, plan, steps, evaluation, signed by the
    facilitator, the supervisor and the client or guardian. `names` gives display names of
    codes (step types, ratings, risk levels…); `client_signature` is the consent signed
    at registration, printed in the client's or guardian's block (else an empty line)."""
    head = current_letterhead()
    now = now or datetime.now(UTC)
    w = _Writer(zone, locale, case, head)
    w.numbered_title(_("Case file"), document_number("BK", case, now), head.legal_basis)
    _summary(w, case, locale)
    w.h2(_("Assessment"))
    if case.assessment:
        a = case.assessment
        w.pairs([(_("Problem"), a.problem), (_("Needs"), a.needs), (_("Strengths"), a.strengths),
                 (_("Resources"), a.resources), (_("Risk level"), names.risk_level(a.risk_level))])
    else:
        w.p(_("No assessment yet."))
    w.h2(_("Intervention plan"))
    goals = case.active_goals
    if case.plan:
        w.p(case.plan.summary)
        w.table([[_("No."), _("Goal"), _("Target date"), _("Responsible")]] +
                [[str(n), g.description, w.day(g.target_date), g.responsible_party]
                 for n, g in enumerate(goals, start=1)], widths=(10 * mm, 85 * mm, 30 * mm, 49 * mm))
    else:
        w.p(_("No plan yet."))
    w.h2(_("Steps"))
    if case.steps:
        w.table([[_("No."), _("When"), _("Type"), _("Where"), _("What was done")]] +
                [[str(n), w.time(s.occurred_at), names.step_type(s.step_type), s.location or "", s.notes]
                 for n, s in enumerate(case.steps, start=1)], widths=(10 * mm, 33 * mm, 28 * mm, 30 * mm, 73 * mm))
    else:
        w.p(_("No steps logged yet."))
    w.h2(_("Evaluation"))
    if case.evaluation:
        w.p(case.evaluation.summary)
        w.table([[_("Goal"), _("Rating"), _("Notes")]] +
                [[r.goal.description, names.rating(r.rating), r.notes] for r in case.evaluation.ratings],
                widths=(80 * mm, 35 * mm, 59 * mm))
    else:
        w.p(_("No evaluation yet."))
    supervisor = case.facilitator.supervisor
    w.signatures(fmt.place_and_date(_place(head, case), now, locale, zone), [
        (_("Supervisor"), supervisor.full_name if supervisor else "", _nip(supervisor)),
        _client_block(case),
        (_("Facilitator"), case.facilitator.full_name, _nip(case.facilitator)),
    ], marks={1: client_signature})
    return w.build(_("Case file %(number)s", number=case.number))


def termination_sign_off(case: Case) -> Any:
    """The supervisor's approval of the case's termination; LookupError if there is none
    (nothing to print yet)."""
    decided = [s for s in case.sign_offs if s.decision == "approved" and s.requested_trigger == "request_termination"]
    if not decided or case.state not in ("resolved", "closed_unresolved"):
        raise LookupError("no approved termination")
    return decided[-1]


def termination_pdf(case: Case, *, locale: str, zone: str, names: Any,
                    user_name: Callable[[int | None], str], client_signature: SignatureImage | None = None) -> bytes:
    """The termination record (berita acara terminasi) with the supervisor's decision, its
    time, and the signatures of the supervisor, the client or guardian (`client_signature`:
    the one captured at termination, else at registration, else an empty line) and the
    facilitator."""
    sign_off = termination_sign_off(case)
    head = current_letterhead()
    w = _Writer(zone, locale, case, head)
    w.numbered_title(_("Termination record"), document_number("BA-TRM", case, sign_off.decided_at),
                     head.legal_basis)
    w.p(_("On %(day)s the termination of the case below was decided as follows.",
          day=fmt.long_date(sign_off.decided_at, locale, zone)))
    _summary(w, case, locale)
    w.h2(_("Outcome"))
    termination = case.termination
    w.pairs([
        (_("Outcome"), names.outcome(case.state)),
        (_("Closure reason"), names.closure_reason(case.closure_reason) if case.closure_reason else "—"),
        (_("Details"), termination.reason_details if termination else ""),
        (_("Aftercare plan"), termination.aftercare_plan if termination else ""),
    ])
    w.h2(_("Supervisor's sign-off"))
    w.pairs([
        (_("Requested by"), user_name(sign_off.requested_by_id)),
        (_("Requested at"), w.time(sign_off.requested_at)),
        (_("Decision"), _("approved")),
        (_("Decided by"), user_name(sign_off.decided_by_id)),
        (_("Decision time"), w.time(sign_off.decided_at)),
        (_("Reason given"), sign_off.reason or "—"),
    ])
    supervisor = db.session.get(User, sign_off.decided_by_id) if sign_off.decided_by_id else None
    w.signatures(fmt.place_and_date(_place(head, case), sign_off.decided_at, locale, zone), [
        (_("Supervisor"), supervisor.full_name if supervisor else "", _nip(supervisor)),
        _client_block(case),
        (_("Facilitator"), case.facilitator.full_name, _nip(case.facilitator)),
    ], marks={1: client_signature})
    return w.build(_("Termination %(number)s", number=case.number))
