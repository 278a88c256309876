import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_facilitator_signs_in_and_sees_cases(page):
    login(page, "pendamping")
    assert page.locator("table").count() == 1
    screenshot(page, "smoke-home")
