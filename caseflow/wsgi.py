"""The WSGI application gunicorn serves (`caseflow serve`, or `gunicorn caseflow.wsgi:app`)."""

from . import create_app

app = create_app()
