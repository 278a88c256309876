"""Domain events: what the services have done that other parts of the application care
about. A service sends its signal after the change, inside its transaction, so a receiver
that writes changes together with it (or the whole use case fails); receivers are
connected by `create_app`.

- `step_logged`: sender the Case, `step=` the Step just added (flushed, with its id).
  The sealed monitoring figures count a step logged into a past month; a step logged
  during aftercare makes the planned contact whose window it falls in.
- `case_moved`: sender the Case (in its new state), `transition=` the TransitionDef taken,
  `source=` the state it left, `actor=` and `now=`. Aftercare starts after a resolution
  and ends when the case is reopened during it.
- `sign_off_decided`: sender the Case (already moved), `sign_off=` the decided SignOff,
  `actor=`. A rejection is told to the facilitator (services/feedback.py).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

step_logged = _signals.signal("step-logged")
case_moved = _signals.signal("case-moved")
sign_off_decided = _signals.signal("sign-off-decided")
