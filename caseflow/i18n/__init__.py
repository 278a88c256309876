"""Translation helpers usable from any layer: messages stay lazy until a page or an
API response renders them in the reader's language."""

from flask_babel import lazy_gettext

_l = lazy_gettext
