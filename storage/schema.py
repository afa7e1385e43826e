"""Every model module, imported so that Base.metadata knows the whole schema.

Alembic and the tests read the schema from here; a new module of models adds its
import below.
"""

from storage import agenda  # noqa: F401  (the patient's agenda)
from storage import catalogue  # noqa: F401  (the catalogue of services, consents)
from storage import dossier  # noqa: F401  (the patient's dossier)
from storage import grants  # noqa: F401  (folder rights)
from storage import login_failures  # noqa: F401  (failed logins, hub-wide)
from storage import models  # noqa: F401
from storage import patients  # noqa: F401  (patient spaces)
from storage import profile  # noqa: F401  (the profil médical)
from storage import sessions  # noqa: F401  (webmail sessions)
from storage import sync  # noqa: F401  (expunged UIDs)
from storage import totp  # noqa: F401  (the webmail's second factor)
from storage.models import Base

metadata = Base.metadata
