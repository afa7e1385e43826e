"""delivery.accept on both backends: stored once, readable by each reader only, tamper-evident."""

import asyncio

import pytest
from sqlalchemy import insert, select, update

from crypto.errors import IntegrityError
from mssante_hub.delivery import Envelope, accept
from mssante_hub.reader import NotReadable, read_as, read_folder
from storage import messages
from storage.models import Account, Blob, Message, WrappedKey
from tests.conftest import add_professional
from tests.support.mail import make_message


def deliver(hub, recipients, subject="Compte rendu", body="Texte", sender="secretariat@chu.example"):
    raw = make_message(sender, ", ".join(recipients), subject, body)
    return asyncio.run(accept(hub, Envelope(sender, tuple(recipients), channel="mx"), raw))


def test_three_recipients_one_body_each_decrypts_fourth_cannot(any_hub):
    readers = [add_professional(any_hub, f"dr.{n}") for n in ("a", "b", "c")]
    outsider = add_professional(any_hub, "dr.d")
    delivered = deliver(any_hub, readers, subject="Résultats IRM", body="Lésion stable")

    with any_hub.engine.connect() as conn:
        assert messages.count_blobs(conn) == 1
        assert messages.count_messages(conn) == 3
        message_ids = conn.execute(select(Message.id)).scalars().all()
    for address in readers:
        [opened] = read_folder(any_hub, address)
        assert b"L\xc3\xa9sion stable" in opened.raw or "Lésion stable" in opened.raw.decode()
        assert opened.summary["subject"] == "Résultats IRM"
        assert opened.uid == delivered.uids[address]
    for message_id in message_ids:
        with pytest.raises(NotReadable):
            read_as(any_hub, outsider, message_id)


def test_outsider_cannot_open_a_readers_wrapped_key(any_hub):
    reader = add_professional(any_hub, "dr.a")
    outsider = add_professional(any_hub, "dr.d")
    deliver(any_hub, [reader])
    with any_hub.engine.begin() as conn:
        row = conn.execute(select(WrappedKey.blob_id, WrappedKey.wrapped)).one()
        outsider_id = conn.execute(select(Account.id).where(Account.address == outsider)).scalar_one()
        # Give the outsider a copy of the reader's wrapped key: it must still not open.
        conn.execute(insert(WrappedKey).values(blob_id=row.blob_id, account_id=outsider_id, wrapped=row.wrapped))
        message_id = conn.execute(select(Message.id)).scalar_one()
    with pytest.raises(IntegrityError):
        read_as(any_hub, outsider, message_id)


def test_flipped_byte_and_moved_ciphertext_fail_integrity(any_hub):
    reader = add_professional(any_hub, "dr.a")
    deliver(any_hub, [reader], subject="premier")
    deliver(any_hub, [reader], subject="second")
    first, second = read_folder(any_hub, reader)

    with any_hub.engine.begin() as conn:
        blob_ids = conn.execute(select(Message.blob_id).order_by(Message.uid)).scalars().all()
        body = conn.execute(select(Blob.body).where(Blob.id == blob_ids[0])).scalar_one()
        altered = bytearray(body)
        altered[len(altered) // 2] ^= 0x40
        conn.execute(update(Blob).where(Blob.id == blob_ids[0]).values(body=bytes(altered)))
    with pytest.raises(IntegrityError):
        read_as(any_hub, reader, first.message_id)

    with any_hub.engine.begin() as conn:
        conn.execute(update(Blob).where(Blob.id == blob_ids[0]).values(body=body))  # restore
        second_body = conn.execute(select(Blob.body).where(Blob.id == blob_ids[1])).scalar_one()
        conn.execute(update(Blob).where(Blob.id == blob_ids[0]).values(body=second_body))  # move
    assert read_as(any_hub, reader, second.message_id).summary["subject"] == "second"
    with pytest.raises(IntegrityError):
        read_as(any_hub, reader, first.message_id)


def test_concurrent_deliveries_get_unique_consecutive_uids(any_hub):
    reader = add_professional(any_hub, "dr.a")

    async def many():
        raw = make_message("x@chu.example", reader, "s", "b")
        return await asyncio.gather(*[
            accept(any_hub, Envelope("x@chu.example", (reader,), channel="mx"), raw) for _ in range(40)
        ])

    results = asyncio.run(many())
    uids = sorted(r.uids[reader] for r in results)
    assert uids == list(range(1, 41))


def test_a_mailbox_suspended_moments_ago_is_refused_for_good_not_asked_to_retry(any_hub):
    """The delivery path remembers account rows a few seconds; the write transaction reads the status again."""
    from mssante_hub.rules import refusals
    from mssante_hub.rules.refusals import Refusal

    reader = add_professional(any_hub, "dr.suspended")
    deliver(any_hub, [reader])  # the account row is now remembered as active
    with any_hub.engine.begin() as conn:
        conn.execute(update(Account).where(Account.address == reader).values(status="suspended"))
    with pytest.raises(Refusal) as refused:
        deliver(any_hub, [reader])
    assert refused.value.reason == refusals.MAILBOX_UNAVAILABLE
    assert 500 <= refused.value.reason.code < 600
    with any_hub.engine.connect() as conn:
        assert messages.count_messages(conn) == 1


@pytest.mark.parametrize("size", [4 * 1024, 100 * 1024], ids=["prepared-by-the-writer", "prepared-in-a-parse-thread"])
def test_small_and_large_messages_are_stored_or_refused_the_same_way(any_hub, size):
    """Messages up to delivery.PREPARE_IN_WRITER_MAX_BYTES take the writer-thread path, larger ones the parse pool."""
    from mssante_hub.rules import refusals
    from mssante_hub.delivery import PREPARE_IN_WRITER_MAX_BYTES
    from mssante_hub.rules.refusals import Refusal

    assert (size <= PREPARE_IN_WRITER_MAX_BYTES) == (size == 4 * 1024)
    reader = add_professional(any_hub, "dr.size")
    body = ("Compte rendu ligne\r\n" * (size // 20))
    delivered = deliver(any_hub, [reader], body=body)
    [opened] = read_folder(any_hub, reader)
    assert opened.uid == delivered.uids[reader] and len(opened.raw) >= size
    unknown = f"nobody@{any_hub.config.get('hub.domain')}"
    with pytest.raises(Refusal) as refused:
        deliver(any_hub, [unknown], body=body)
    assert refused.value.reason == refusals.UNKNOWN_RECIPIENT


def test_a_listener_that_raises_after_the_commit_does_not_refuse_the_message(any_hub, caplog):
    """A committed message is acknowledged: a failing after-commit listener is logged (type only) and counted."""
    reader = add_professional(any_hub, "dr.listener")

    def broken(delivered):
        raise RuntimeError("secret content that must not be logged")

    heard = []
    any_hub.delivery_listeners[:0] = [broken]
    any_hub.delivery_listeners.append(heard.append)
    try:
        delivered = deliver(any_hub, [reader], subject="écouté")
    finally:
        any_hub.delivery_listeners.remove(broken)
        any_hub.delivery_listeners.remove(heard.append)
    assert delivered.uids == {reader: 1}
    assert [d.blob_id for d in heard] == [delivered.blob_id]  # the listeners after the broken one still ran
    assert any_hub.listener_failures == 1
    assert [m.summary["subject"] for m in read_folder(any_hub, reader)] == ["écouté"]
    assert "RuntimeError" in caplog.text and "secret content" not in caplog.text


def test_a_channel_is_always_given():
    with pytest.raises(TypeError):
        Envelope("a@b.example", ("c@d.example",))  # no default: never the trusted path by omission
