"""A gunicorn worker settles its garbage collector once the application is loaded."""

from __future__ import annotations

import json
import subprocess
import sys

from caseflow.serving import COLLECTION_THRESHOLDS


def test_gunicorn_worker_freezes_what_it_loaded_and_spaces_collections_out():
    # In a process of its own: freezing would change the test worker's collector for good.
    script = (
        "import gc, json\n"
        "from caseflow import gunicorn_conf\n"
        "before = gc.get_freeze_count()\n"
        "gunicorn_conf.post_worker_init(None)\n"
        "print(json.dumps({'before': before, 'frozen': gc.get_freeze_count(),"
        " 'thresholds': gc.get_threshold()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["frozen"] > 10_000  # the modules and whatever else the import of the settings loaded
    assert tuple(seen["thresholds"]) == COLLECTION_THRESHOLDS
