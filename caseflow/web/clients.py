"""No client is lost: the client list (a facilitator's own, a supervisor's and their
team's), search by name or full NIK, and a client's page with their cases, from which a
returning client gets a new case ("kasus baru untuk klien ini").

Registration and opening a case stay where they were (cases.new_client, cases.open_case);
this blueprint also gives the case page the links to the client's other cases.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func

from ..i18n import _l
from ..models import Client, Role
from ..models.client import mask_nik
from ..services import clients as client_services
from . import navigation
from .auth import request_actor
from .helpers import paginate_counted, require_role, url_maker

bp = Blueprint("clients", __name__)

navigation.register("clients.index", _l("Clients"), (Role.FACILITATOR, Role.SUPERVISOR), order=15)

PAGE_SIZE = 20
CLIENT_READERS = (Role.FACILITATOR, Role.SUPERVISOR)


class ClientRow(NamedTuple):
    """What the list shows of a client (read with the page's count in one statement)."""

    id: int
    full_name: str
    anonymised: bool
    masked_nik: str
    birth_date: date
    created_at: datetime


@bp.route("/clients")
@login_required
def index():
    """The clients the viewer may see, with those that have no case yet marked."""
    require_role(*CLIENT_READERS)
    viewer = current_user._get_current_object()
    search = (request.args.get("q") or "").strip()[:120]
    without_case = request.args.get("without_case") == "1"
    statement = client_services.client_list(viewer, search=search, without_case=without_case).with_only_columns(
        Client.id, Client.full_name, Client.anonymised_at, Client.nik, Client.birth_date, Client.created_at,
        func.count().over())
    found = paginate_counted(statement, PAGE_SIZE)
    rows = [ClientRow(client_id, name, anonymised_at is not None, mask_nik(nik), born, created)
            for client_id, name, anonymised_at, nik, born, created, _total in found.items]
    return render_template("clients/list.html", clients=rows, **found.fields(),
                           filters={"q": search, "without_case": "1" if without_case else ""},
                           cases=client_services.cases_by_client(viewer, [c.id for c in rows]),
                           client_url=url_maker("clients.show", "client_id"),
                           searched_nik=client_services.is_full_nik(search))


@bp.route("/clients/<int:client_id>")
@login_required
def show(client_id: int):
    """A client's data and cases; a new case for them once the earlier ones are closed."""
    require_role(*CLIENT_READERS)
    client = client_services.get_client(current_user, client_id)
    client_services.record_client_view(request_actor(), client.id)
    return render_template("clients/show.html", client=client,
                           cases=client_services.cases_of(current_user, client),
                           open_case=client_services.open_case_of(client))
