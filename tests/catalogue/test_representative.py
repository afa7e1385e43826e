"""A legal representative connects a service for a minor's space (X-Space) over real HTTP on a served hub: the
consent is the child's, not the parent's, traced as the representative's act in the child's history; a stranger
naming the child's space gets 404."""

from __future__ import annotations

import pytest

from mssante_hub.hub import Hub
from storage import catalogue as store
from tests.catalogue import support
from tests.conftest import add_professional, make_data_dir
from tests.dossier import support as dossier
from tests.patients.test_representatives import CHILD_INS, PARENT_INS, PASSWORD, STRANGER_INS, _space
from tests.support.served import run_cli, served
from tests.web.conftest import configure
from tests.web.support import WebClient


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    data_dir = make_data_dir(tmp_path_factory.mktemp("catalogue-representative"))
    configure(data_dir, {})
    hub = Hub.open(data_dir)
    try:
        add_professional(hub, support.SERVICE_LOCAL, type="APP")
        child = _space(hub, CHILD_INS, "2012-03-28", "PAT-TROIS")
        parent = _space(hub, PARENT_INS, "1980-01-02", "PAT-TROIS")
        _space(hub, STRANGER_INS, "1982-06-03", "AUTRE")
        linked = run_cli("patient", "representative", "add", "--data-dir", str(data_dir),
                         "--holder", PARENT_INS, "--dependant", CHILD_INS)
        assert linked.returncode == 0, linked.stderr
        support.load(data_dir, [support.SERVICE])
        with served(data_dir, ["web"]) as running:
            web = WebClient(running.port("web"))
            yield {"hub": hub, "child": dossier.account(hub, child), "parent": dossier.account(hub, parent),
                   "parent_web": web.login(PARENT_INS, PASSWORD), "child_web": web.login(CHILD_INS, PASSWORD),
                   "stranger_web": web.login(STRANGER_INS, PASSWORD)}
    finally:
        hub.close()


def test_the_representative_connects_a_service_for_the_child(scene):
    on_child = {"X-Space": str(scene["child"].id)}
    answer = scene["parent_web"].call("POST", "/api/catalogue/suivi-diabete/consent", {"scopes": ["agenda"]},
                                      headers=on_child)
    assert answer.status == 200 and answer.body["outcome"] == "granted", answer.body
    held = lambda account: scene["hub"].read_sync(lambda conn: store.consents_of(conn, account.id))  # noqa: E731
    assert held(scene["child"])["suivi-diabete"].scopes == ("agenda",) and held(scene["parent"]) == {}
    own = scene["parent_web"].call("GET", "/api/catalogue").body["services"]
    assert own[0]["consent"] is None  # without X-Space the parent is on their own space
    lines = [e for e in scene["child_web"].call("GET", "/api/history").body["history"]
             if e["action"] == "catalogue.consent"]
    assert [(e["outcome"], e["actor"]) for e in lines] == [("granted", "Votre représentant légal")], lines
    stranger = scene["stranger_web"].call("DELETE", "/api/catalogue/suivi-diabete/consent", headers=on_child)
    assert stranger.status == 404
    assert held(scene["child"])["suivi-diabete"].scopes == ("agenda",)
