"""The SMTP test hub (mx and submission on a background loop) and its PKI, for the filing tests."""

from tests.smtp.conftest import pki, smtp_hub, smtp_settings  # noqa: F401  (fixtures)
