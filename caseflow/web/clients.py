"""No client is lost: the client list (a facilitator's own, a supervisor's and their
team's), search by name or full NIK, and a client's page with their cases, from which a
returning client gets a new case ("kasus baru untuk klien ini").

Registration and opening a case stay where they were (cases.new_client, cases.open_case);
this blueprint also gives the case page the links to the client's other cases.
"""

from __future__ import annotations

import math

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..extensions import db
from ..i18n import _l
from ..models import Case, Role
from ..schemas import page_number
from ..services import clients as client_services
from . import navigation
from .auth import request_actor

bp = Blueprint("clients", __name__)

navigation.register("clients.index", _l("Clients"), (Role.FACILITATOR, Role.SUPERVISOR), order=15)

PAGE_SIZE = 20
CLIENT_READERS = (Role.FACILITATOR, Role.SUPERVISOR)


def _require_reader() -> None:
    if current_user.role not in CLIENT_READERS:
        abort(403)


@bp.route("/clients")
@login_required
def index():
    """The clients the viewer may see, with those that have no case yet marked."""
    _require_reader()
    search = (request.args.get("q") or "").strip()[:120]
    without_case = request.args.get("without_case") == "1"
    page = page_number(request.args.get("page"))
    statement = client_services.client_list(current_user, search=search, without_case=without_case)
    total = db.session.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    page = min(page, pages)
    rows = db.session.execute(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all()
    return render_template("clients/list.html", clients=rows, total=total, page=page, pages=pages,
                           filters={"q": search, "without_case": "1" if without_case else ""},
                           cases=client_services.cases_by_client(current_user, [c.id for c in rows]),
                           searched_nik=client_services.is_full_nik(search))


@bp.route("/clients/<int:client_id>")
@login_required
def show(client_id: int):
    """A client's data and cases; a new case for them once the earlier ones are closed."""
    _require_reader()
    client = client_services.get_client(current_user, client_id)
    client_services.record_client_view(request_actor(), client.id)
    return render_template("clients/show.html", client=client,
                           cases=client_services.cases_of(current_user, client),
                           open_case=client_services.open_case_of(client))


@bp.app_template_global()
def client_case_links(case: Case) -> list[Case]:
    """The other cases of a case's client that the viewer may open (earlier and later)."""
    return [c for c in client_services.cases_of(current_user, case.client) if c.id != case.id]
