"""`mssante-hub catalogue load` and `catalogue list` as the operator runs them: a file checked under limits (each
refusal says which service and field, nothing loaded), loaded again unchanged, one shared row per service."""

from __future__ import annotations

import json

import pytest

from storage import catalogue as store
from tests.catalogue import support
from tests.conftest import add_professional
from tests.support.served import run_cli

REFUSED = [
    ("not JSON", b"{", "not JSON"),
    ("deep JSON", b"[" * 100_000, "not JSON"),
    ("too big", b" " * (4 * 1024 * 1024 + 1), "file larger than"),
    ("no id", [{k: v for k, v in support.SERVICE.items() if k != "id"}], "service 1: id missing"),
    ("bad status", [support.service(status="retired")], "service suivi-diabete: status is one of"),
    ("bad scope", [support.service(scopes=["everything"])], "scopes are among"),
    ("scopes without exchange", [support.service(data_exchange=False)], "exchanges no data offers no scopes"),
    ("plain http", [support.service(urls={"site": "http://x.example"})], "an https:// URL expected"),
    ("long name", [support.service(name="x" * 201)], "name: a text of at most 200"),
    ("control character", [support.service(editor="a\x1bb")], "control characters refused"),
    ("too many themes", [support.service(themes=["t"] * 21)], "themes: a list of at most 20"),
    ("same mailbox twice", [support.service(), support.service(id="autre")], "two services with the same mailbox"),
    ("remote mailbox", [support.service(mailbox="app@ailleurs.example")], "is not an address of this hub"),
    ("PER mailbox", [support.service(mailbox="jean.dupont@hub.test")], "is a PER mailbox, not APP"),
]


def _file(tmp_path, content) -> str:
    path = tmp_path / "catalogue.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return str(path)


@pytest.fixture
def operator_dir(hub):
    add_professional(hub, "jean.dupont")
    add_professional(hub, support.SERVICE_LOCAL, type="APP")
    return hub


@pytest.mark.parametrize("name, content, said", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_refused_file_loads_nothing_and_says_why(operator_dir, tmp_path, name, content, said):
    hub = operator_dir
    done = run_cli("catalogue", "load", "--data-dir", str(hub.config.data_dir), _file(tmp_path, content))
    assert done.returncode == 1 and said in done.stderr, done.stderr
    assert hub.read_sync(store.services) == []


def test_load_again_is_an_update_and_list_prints_the_services(operator_dir, tmp_path):
    hub = operator_dir
    data_dir = str(hub.config.data_dir)
    path = _file(tmp_path, [support.SERVICE, support.OTHER])
    first = run_cli("catalogue", "load", "--data-dir", data_dir, path)
    assert first.returncode == 0 and "2 new, 0 updated, 0 unchanged" in first.stdout, first
    assert "note: no APP mailbox sommeil-plus@hub.test yet" in first.stdout
    again = run_cli("catalogue", "load", "--data-dir", data_dir, path)
    assert "0 new, 0 updated, 2 unchanged" in again.stdout, again
    changed = run_cli("catalogue", "load", "--data-dir", data_dir,
                      _file(tmp_path, [support.service(status="offline")]))
    assert "0 new, 1 updated" in changed.stdout, changed
    listed = run_cli("catalogue", "list", "--data-dir", data_dir)
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        "sommeil-plus online v3 exchange:yes scopes:measures mailbox:sommeil-plus@hub.test Sommeil+",
        "suivi-diabete offline v1.0 exchange:yes scopes:documents,agenda,measures,messages "
        "mailbox:suivi-diabete@hub.test Suivi Diabète", "services 2"]
