"""Printable PDFs: the case file and the termination report (berita acara terminasi).

Fonts are the Bitstream Vera TTFs that ship inside the reportlab package (Unicode, so
names with any letters print), registered once; nothing is downloaded.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import reportlab
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..models import Case, mask_nik
from ..models.reference import TIMEZONE_ABBREVIATIONS
from ..services.runtime import engine

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
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName="Vera-Bold", fontSize=15),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName="Vera-Bold", fontSize=12),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontName="Vera", fontSize=9.5, leading=12),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontName="Vera", fontSize=8, leading=10),
    }


class _Writer:
    def __init__(self, zone: str):
        _register_fonts()
        self.zone = zone
        self.styles = _styles()
        self.story: list[Any] = []

    def time(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(ZoneInfo(self.zone))
        return local.strftime("%d-%m-%Y %H:%M ") + TIMEZONE_ABBREVIATIONS.get(self.zone, self.zone)

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
        document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Caseflow",
                                     leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                     bottomMargin=16 * mm)

        def footer(canvas, doc):
            canvas.saveState()
            canvas.setFont("Vera", 7.5)
            canvas.drawString(18 * mm, 9 * mm, f"Caseflow · {title} · {doc.page}")
            canvas.restoreState()

        document.build(self.story, onFirstPage=footer, onLaterPages=footer)
        return buffer.getvalue()


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
    w.p(case.summary)


def _audit_seal(w: _Writer, case: Case) -> None:
    w.h2(_("Audit chain"))
    w.pairs([
        (_("Events in the case's chain"), case.audit_seq),
        (_("Hash of the latest event"), case.audit_hash or "—"),
    ])
    w.p(_("Compare this hash with the case's audit trail in Caseflow to check that this paper copy "
          "matches the system."), "small")


def case_pdf(case: Case, *, locale: str, zone: str, names: Any) -> bytes:
    """The case file: summary, assessment, plan, steps, evaluation. `names` gives display
    names of codes (step types, ratings, risk levels…)."""
    w = _Writer(zone)
    w.title(_("Case file %(number)s", number=case.number))
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
        w.table([[_("Goal"), _("Target date"), _("Responsible")]] +
                [[g.description, g.target_date.isoformat() if g.target_date else "", g.responsible_party]
                 for g in goals], widths=(95 * mm, 30 * mm, 45 * mm))
    else:
        w.p(_("No plan yet."))
    w.h2(_("Steps"))
    if case.steps:
        w.table([[_("When"), _("Type"), _("Where"), _("What was done")]] +
                [[w.time(s.occurred_at), names.step_type(s.step_type), s.location or "", s.notes]
                 for s in case.steps], widths=(35 * mm, 30 * mm, 30 * mm, 75 * mm))
    else:
        w.p(_("No steps logged yet."))
    w.h2(_("Evaluation"))
    if case.evaluation:
        w.p(case.evaluation.summary)
        w.table([[_("Goal"), _("Rating"), _("Notes")]] +
                [[r.goal.description, names.rating(r.rating), r.notes] for r in case.evaluation.ratings],
                widths=(80 * mm, 35 * mm, 55 * mm))
    else:
        w.p(_("No evaluation yet."))
    _audit_seal(w, case)
    return w.build(case.number)


def termination_pdf(case: Case, *, locale: str, zone: str, names: Any,
                    user_name: Callable[[int | None], str]) -> bytes:
    """The termination report with the supervisor's decision, its time and the audit seal."""
    decided = [s for s in case.sign_offs if s.decision == "approved" and s.requested_trigger == "request_termination"]
    if not decided or case.state not in ("resolved", "closed_unresolved"):
        raise LookupError("no approved termination")
    sign_off = decided[-1]
    w = _Writer(zone)
    w.title(_("Termination report (berita acara terminasi)"))
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
    _audit_seal(w, case)
    return w.build(_("Termination %(number)s", number=case.number))
