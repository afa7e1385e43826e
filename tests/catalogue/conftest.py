"""The shared fixtures the dossier tests use for module-scoped served hubs."""

from tests.dossier.conftest import module_fixtures_dir  # noqa: F401  (fixture)
