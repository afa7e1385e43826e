"""What the APIs of a patient's space (dossier, profile, agenda) share: the holder's session, their reader, traces."""

from __future__ import annotations

from typing import Awaitable, Callable

from twisted.web import server

from mssante_hub import audit
from mssante_hub.hub import Hub
from mssante_hub.reader import Reader
from mssante_hub.web.http import FORBIDDEN, ApiError
from mssante_hub.web.sessions import Session
from storage import accounts as account_repo
from storage.models import AccountType

NOT_A_PATIENT = ApiError(403, "forbidden", "Réservé au titulaire d'un espace santé",
                         "Only the holder of a patient space may do this")


class PatientApi:
    """A JSON API below /api that only the holder of a patient space (or their representative) uses."""

    def __init__(self, hub: Hub, client_ip: Callable[[server.Request], str],
                 session: Callable[[server.Request], Awaitable[Session]]) -> None:
        self.hub = hub
        self._client_ip = client_ip
        self._session_of = session

    async def _patient(self, request: server.Request) -> Session:
        session = await self._session_of(request)
        if session.type != AccountType.PATIENT.value:
            raise NOT_A_PATIENT
        return session

    @staticmethod
    def _account(conn, session: Session) -> account_repo.AccountRow:
        account = account_repo.by_address(conn, session.address)
        if account is None:
            raise FORBIDDEN
        return account

    def _reader(self, conn, session: Session) -> Reader:
        return Reader.of(self.hub, self._account(conn, session))

    async def _trace(self, session: Session, action: str, target: str, outcome: str = "ok") -> None:
        """One functional trace, naming whoever acts (the holder, or their representative) on this space."""
        await self.hub.write(lambda conn: audit.record(
            conn, actor=session.actor, actor_type=session.actor_type, action=action,
            subject_account_id=session.account_id, target=target, outcome=outcome))
