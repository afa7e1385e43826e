"""The second factor in headless Chromium (docs/web.md): in Paramètres the patient turns on "Validation en deux
étapes" with their password, reads the key the page shows (its QR code, decoded by zbarimg, gives the same URI),
confirms with the code pyotp computes from it (as an authenticator application would), gets 10 recovery codes;
signs out; signing in then asks for the code, which is entered and accepted. axe-core at 1280 and 360 px on both,
screenshots, no CSP violation.
"""

from __future__ import annotations

import subprocess
import time

import pyotp

from tests.patients.test_notify import active_patient
from tests.web.browser import (PATIENT_PASSWORD, browser, by_id, css, csp_violations, go, open_page, sign_in,
                               wait)
from tests.support.programs import need
from tests.web.test_browser_profile import checked, text_of

__all__ = ["browser"]  # the fixture, used by name


def test_turning_the_second_factor_on_then_signing_in_with_a_code(web_hub, browser, tmp_path):
    patient, _ = active_patient(web_hub.hub, "totp.page@courriel.example")
    login = patient.partition("@")[0]
    sign_in(browser, web_hub.port, login)
    go(browser, "#parametres", "totp-start-form")
    assert text_of(browser, "totp-state").startswith("Désactivée")
    by_id(browser, "totp-start-password").send_keys(PATIENT_PASSWORD)
    by_id(browser, "totp-start-form").submit()
    wait(browser, lambda d: by_id(d, "totp-confirm-form").is_displayed())
    secret = text_of(browser, "totp-secret").replace(" ", "")
    otp = pyotp.TOTP(secret)
    uri = by_id(browser, "totp-uri").get_attribute("value")
    assert pyotp.parse_uri(uri).secret == secret
    # The QR code the page draws is read back by a real decoder (zbar) from the screenshot: the same URI.
    picture = tmp_path / "qr.png"
    picture.write_bytes(by_id(browser, "totp-qr").find_element("css selector", "svg").screenshot_as_png)
    decoded = subprocess.run([need("zbarimg"), "--raw", "-q", str(picture)], capture_output=True, text=True,
                             timeout=60)
    assert decoded.stdout.strip() == uri, decoded.stderr
    first = otp.now()
    by_id(browser, "totp-confirm-code").send_keys(first)
    by_id(browser, "totp-confirm-form").submit()
    wait(browser, lambda d: "La validation en deux étapes est activée." in text_of(d, "notice"))
    assert len(css(browser, "#totp-codes li")) == 10
    assert text_of(browser, "totp-state").startswith("Activée")
    assert text_of(browser, "totp-secret") == ""  # the key is shown once
    checked(browser, "parametres-deux-etapes", "totp-pane")

    by_id(browser, "logout").click()
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    open_page(browser, web_hub.port)
    wait(browser, lambda d: by_id(d, "login-view").is_displayed())
    by_id(browser, "login").send_keys(login)
    by_id(browser, "password").send_keys(PATIENT_PASSWORD)
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: by_id(d, "login-otp-row").is_displayed())
    assert "code de votre application" in text_of(browser, "error")
    checked(browser, "connexion-deux-etapes")
    code = otp.at(time.time() + 30)  # the confirmation spent this step's code: the next one is accepted
    by_id(browser, "login-otp").send_keys(code)
    by_id(browser, "login-form").submit()
    wait(browser, lambda d: by_id(d, "home-view").is_displayed())
    assert not by_id(browser, "login-otp-row").is_displayed()
    assert csp_violations(browser) == []
