"""Every user-facing string has an Indonesian translation, and the catalogs compile."""

from __future__ import annotations

from caseflow.i18n.tools import extracted_messages, missing


def test_strings_are_extracted_from_code_and_templates():
    messages = extracted_messages()
    assert "No such case." in messages
    assert any(place.startswith("templates/") for places in messages.values() for place in places)


def test_every_message_has_an_indonesian_translation():
    untranslated = missing("id")
    report = "\n".join(f"{places[0]}: {msgid!r}" for msgid, places in sorted(untranslated.items()))
    assert not untranslated, (
        f"{len(untranslated)} message(s) lack Indonesian; run "
        f"`python -m caseflow.i18n.tools missing --add <area>` and translate:\n{report}"
    )


def test_indonesian_is_the_default_and_english_is_available(app):
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"):
        assert gettext("No such case.") == "Kasus tidak ditemukan."
        with force_locale("en"):
            assert gettext("No such case.") == "No such case."
