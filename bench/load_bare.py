"""The floor of a request: a bare Flask route, served by bench/load.py under the same
gunicorn settings as the application (`gunicorn 'bench.load_bare:app'` from the project root)."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/bare")
def bare() -> str:
    return "ok"
