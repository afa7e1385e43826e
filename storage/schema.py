"""Every model module, imported so that Base.metadata knows the whole schema.

Alembic and the tests read the schema from here; a new module of models adds its
import below.
"""

from storage import models  # noqa: F401
from storage import imap_models  # noqa: F401
from storage import patients  # noqa: F401  (patient spaces)
from storage import web_sessions  # noqa: F401  (webmail sessions)
from storage.models import Base

metadata = Base.metadata
