from tests.smtp.conftest import pki, smtp_hub, smtp_settings  # noqa: F401 - shared fixtures
