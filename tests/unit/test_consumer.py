"""The idempotent consumer and the outbox relay, on the embedded database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.unit.conftest import run_until
from tijori.common.app import build_runtime
from tijori.common.bus import KafkaBus
from tijori.common.clock import utcnow
from tijori.common.consumer import IdempotentConsumer
from tijori.common.db import UnitOfWork, UnitOfWorkFactory
from tijori.common.events import (
    Envelope,
    TransactionInitiated,
    UserCreated,
    new_event,
    parse_event,
)
from tijori.common.outbox import OutboxRelay, add_to_outbox
from tijori.wallets import service
from tijori.wallets.config import WalletsSettings
from tijori.wallets.consumers import prefetch_transfers
from tijori.wallets.models import LedgerEntry, OutboxMessage, ProcessedEvent, Wallet

USER = UserCreated(user_id="user-1", name="Asha", email="asha@example.com", phone="+919876543210")


def _consumer(units: UnitOfWorkFactory, handler: Any) -> IdempotentConsumer:
    return IdempotentConsumer(
        name="wallets",
        bus=KafkaBus("unused:9092"),
        units=units,
        processed_model=ProcessedEvent,
        handlers={"user.created": handler},
    )


async def test_an_event_applied_twice_takes_effect_once(wallets_units: UnitOfWorkFactory) -> None:
    async def open_wallet(uow: AsyncSession, event: Envelope[Any]) -> None:
        await service.open_wallet(uow, user=event.payload, promo_paise=10_000)

    consumer = _consumer(wallets_units, open_wallet)
    event = new_event(USER)
    raw = event.model_dump_json().encode()
    await consumer.apply_messages([(raw, ())])
    await consumer.apply_messages([(raw, ())])
    assert (consumer.applied, consumer.duplicates) == (1, 1)
    async with wallets_units() as uow:
        wallets = (
            await uow.session.scalars(select(Wallet).where(Wallet.user_id == "user-1"))
        ).all()
        entries = await uow.session.scalar(select(func.count()).select_from(LedgerEntry))
        outbox = (await uow.session.scalars(select(OutboxMessage))).all()
    assert [w.balance_paise for w in wallets] == [10_000]
    assert entries == 2
    assert [row.topic for row in outbox] == ["wallet.created"]


async def test_a_failed_effect_records_nothing_and_is_retried(
    wallets_units: UnitOfWorkFactory,
) -> None:
    handler = AsyncMock(side_effect=[RuntimeError("database hiccup"), None])
    consumer = _consumer(wallets_units, handler)
    event = new_event(USER)
    await asyncio.wait_for(
        consumer.apply_messages([(event.model_dump_json().encode(), ())]), timeout=10
    )
    assert handler.await_count == 2
    assert consumer.applied == 1
    async with wallets_units() as uow:
        assert await uow.session.get(ProcessedEvent, ("wallets", event.id)) is not None


async def test_a_malformed_message_is_dropped_without_effect(
    wallets_units: UnitOfWorkFactory,
) -> None:
    handler = AsyncMock()
    consumer = _consumer(wallets_units, handler)
    await consumer.apply_messages([(b'{"type": "user.created", "payload": {}}', ())])
    await consumer.apply_messages([(b"\x00garbage", ())])
    handler.assert_not_awaited()


def _user(number: int) -> UserCreated:
    return UserCreated(
        user_id=f"user-{number}",
        name=f"Person {number}",
        email=f"person{number}@example.com",
        phone=f"+9198765432{number:02d}",
    )


async def _wallet_balances(units: UnitOfWorkFactory) -> dict[str, int]:
    async with units() as uow:
        rows = (await uow.session.scalars(select(Wallet).where(Wallet.kind == "USER"))).all()
    return {row.user_id: row.balance_paise for row in rows}


async def test_a_batch_applies_each_event_once_and_skips_ones_already_applied(
    wallets_units: UnitOfWorkFactory,
) -> None:
    async def open_wallet(uow: AsyncSession, event: Envelope[Any]) -> None:
        await service.open_wallet(uow, user=event.payload, promo_paise=10_000)

    consumer = _consumer(wallets_units, open_wallet)
    first, second, third = (new_event(_user(n)) for n in (1, 2, 3))
    await consumer.apply_messages([(first.model_dump_json().encode(), ())])
    batch = [first, second, second, b"\x00garbage", third]
    await consumer.apply_messages(
        [(e if isinstance(e, bytes) else e.model_dump_json().encode(), []) for e in batch]
    )
    assert (consumer.applied, consumer.duplicates) == (3, 2)
    assert await _wallet_balances(wallets_units) == {
        "user-1": 10_000,
        "user-2": 10_000,
        "user-3": 10_000,
    }
    async with wallets_units() as uow:
        markers = await uow.session.scalar(select(func.count()).select_from(ProcessedEvent))
        entries = await uow.session.scalar(select(func.count()).select_from(LedgerEntry))
    assert (markers, entries) == (3, 6)


async def test_a_batch_that_fails_is_applied_one_by_one_without_losing_or_doubling(
    wallets_units: UnitOfWorkFactory,
) -> None:
    calls: list[str] = []

    async def open_wallet(uow: AsyncSession, event: Envelope[Any]) -> None:
        calls.append(event.payload.user_id)
        if calls.count("user-5") == 1 and event.payload.user_id == "user-5":
            raise RuntimeError("the database went away mid-batch")
        await service.open_wallet(uow, user=event.payload, promo_paise=10_000)

    consumer = _consumer(wallets_units, open_wallet)
    events = [new_event(_user(n)) for n in (4, 5, 6)]
    await asyncio.wait_for(
        consumer.apply_messages([(e.model_dump_json().encode(), []) for e in events]), timeout=10
    )
    # the batch rolled back after user-5 failed; then each was applied on its own
    assert calls == ["user-4", "user-5", "user-4", "user-5", "user-6"]
    assert consumer.applied == 3
    assert await _wallet_balances(wallets_units) == {
        "user-4": 10_000,
        "user-5": 10_000,
        "user-6": 10_000,
    }


async def test_the_relay_publishes_committed_rows_in_order_and_marks_them(
    wallets_units: UnitOfWorkFactory,
) -> None:
    async with wallets_units() as uow:
        events = [add_to_outbox(uow, OutboxMessage, USER, key="user-1") for _ in range(3)]
        await uow.commit()
    relay = OutboxRelay(units=wallets_units, model=OutboxMessage, bus=KafkaBus("x", prefix="p."))
    producer = MagicMock()
    delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    delivered.set_result(None)
    producer.send = AsyncMock(return_value=delivered)

    assert await relay.publish_pending(producer) == 3
    sent = [call.args[0] for call in producer.send.await_args_list]
    assert sent == ["p.user.created"] * 3
    bodies = [call.kwargs["value"] for call in producer.send.await_args_list]
    assert [Envelope[Any].model_validate_json(body).id for body in bodies] == [e.id for e in events]
    assert await relay.publish_pending(producer) == 0  # marked: nothing sent twice
    async with wallets_units() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage))).all()
    assert all(row.published_at is not None for row in rows)


async def test_rows_stay_unpublished_when_the_broker_refuses(
    wallets_units: UnitOfWorkFactory,
) -> None:
    async with wallets_units() as uow:
        add_to_outbox(uow, OutboxMessage, USER, key="user-1")
        await uow.commit()
    relay = OutboxRelay(units=wallets_units, model=OutboxMessage, bus=KafkaBus("x"))
    producer = MagicMock()
    producer.send = AsyncMock(side_effect=ConnectionError("broker down"))
    try:
        await relay.publish_pending(producer)
    except ConnectionError:
        pass
    async with wallets_units() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage))).all()
    assert [row.published_at for row in rows] == [None]


async def test_a_commit_with_an_event_wakes_the_services_relay(
    sqlite_url: Callable[[str], str],
) -> None:
    url = sqlite_url("wallets")
    runtime = build_runtime(
        name="wallets",
        settings=WalletsSettings(database_url=url, kafka_bootstrap="127.0.0.1:9"),
        database_url=url,
        outbox_model=OutboxMessage,
    )
    assert runtime.relay is not None and not runtime.relay._wake.is_set()
    try:
        async with runtime.unit_of_work() as uow:
            uow.session.add(Wallet(user_id="nobody", balance_paise=0))
            await uow.commit()
        assert not runtime.relay._wake.is_set()
        async with runtime.unit_of_work() as uow:
            add_to_outbox(uow, OutboxMessage, USER, key="k")
            await uow.rollback()
        assert not runtime.relay._wake.is_set()  # rolled back: nothing to send
        async with runtime.unit_of_work() as uow:
            add_to_outbox(uow, OutboxMessage, USER, key="k")
            await uow.commit()
        assert runtime.relay._wake.is_set()
    finally:
        await runtime.cache.close()
        await runtime.engine.dispose()


def _transfer(transaction_id: str, sender: int, receiver: int, paise: int) -> TransactionInitiated:
    return TransactionInitiated(
        transaction_id=transaction_id,
        sender_id=f"user-{sender}",
        receiver_id=f"user-{receiver}",
        amount_paise=paise,
    )


async def test_a_batch_of_transfers_locked_at_once_decides_as_one_by_one_would(
    wallets_units: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def open_wallet(uow: AsyncSession, event: Envelope[Any]) -> None:
        await service.open_wallet(uow, user=event.payload, promo_paise=10_000)

    async def apply(uow: AsyncSession, event: Envelope[Any]) -> None:
        await service.apply_transfer(uow, transfer=event.payload)

    consumer = IdempotentConsumer(
        name="wallets",
        bus=KafkaBus("unused:9092"),
        units=wallets_units,
        processed_model=ProcessedEvent,
        handlers={"user.created": open_wallet, "transaction.initiated": apply},
        prefetch=prefetch_transfers,
    )
    for number in (1, 2):
        await consumer.apply_messages([(new_event(_user(number)).model_dump_json().encode(), ())])
    # t1 twice (a re-drive: a new event of the same transaction), t2 too much after t1
    batch = [
        new_event(_transfer("t1", 1, 2, 6_000)),
        new_event(_transfer("t1", 1, 2, 6_000)),
        new_event(_transfer("t2", 1, 2, 6_000)),
        new_event(_transfer("t3", 2, 1, 1_000)),
        new_event(_transfer("t4", 1, 9, 1_000)),
    ]
    await consumer.apply_messages([(e.model_dump_json().encode(), []) for e in batch])
    assert "could not apply" not in caplog.text  # together, not one by one after a failure
    assert consumer.applied == 7
    assert await _wallet_balances(wallets_units) == {"user-1": 5_000, "user-2": 15_000}
    async with wallets_units() as uow:
        outcomes = [
            (row.topic, parse_event(row.body).payload)
            for row in (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        ]
        entries = await uow.session.scalar(select(func.count()).select_from(LedgerEntry))
    decided = [
        (payload.transaction_id, getattr(payload, "reason", None))
        for topic, payload in outcomes
        if topic != "wallet.created"
    ]
    assert decided == [
        ("t1", None),
        ("t1", None),  # repeated, not applied again
        ("t2", "insufficient_funds"),
        ("t3", None),
        ("t4", "wallet_not_found"),
    ]
    assert entries == 4 + 2 + 2  # two promotions, t1 and t3


async def test_an_event_committed_while_the_relay_publishes_goes_out_at_once(
    wallets_units: UnitOfWorkFactory,
) -> None:
    """The relay's wake-up is not lost to a commit that lands during a round: the event
    goes out in the next round, not at the next poll (here 60 s away)."""
    published: list[bytes] = []
    all_out = asyncio.Event()

    async def send(topic: str, *, value: bytes, key: bytes, headers: Any) -> asyncio.Future[None]:
        published.append(value)
        if len(published) == 2:
            all_out.set()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    producer = MagicMock(start=AsyncMock(), stop=AsyncMock(), send=send)
    bus = MagicMock(producer=MagicMock(return_value=producer), topic=lambda name: name)
    relay = OutboxRelay(units=wallets_units, model=OutboxMessage, bus=bus, poll_seconds=60)
    publish = relay.publish_pending

    async def another_commits_meanwhile(producer: Any) -> int:
        sent = await publish(producer)
        if len(published) == 1:  # after this round read the outbox, before it ends
            async with waking() as uow:
                add_to_outbox(uow, OutboxMessage, _user(2), key="k2")
                await uow.commit()
        return sent

    relay.publish_pending = another_commits_meanwhile  # type: ignore[method-assign]

    def waking() -> UnitOfWork:  # as the service's runtime wires them
        uow = wallets_units()
        uow.wake_relay = relay.wake
        return uow

    async with waking() as uow:
        add_to_outbox(uow, OutboxMessage, _user(1), key="k1")
        await uow.commit()
    await run_until(relay.run(), all_out, seconds=5)  # the poll is 60 s away
    assert [parse_event(body).payload.user_id for body in published] == ["user-1", "user-2"]


async def test_a_consumer_whose_fetch_swallowed_its_cancellation_still_stops(
    wallets_units: UnitOfWorkFactory,
) -> None:
    """aiokafka's fetches await with ``wait_for``, which on Python 3.11 can return instead
    of raising when the task is cancelled (as aiosmtplib's did in the mailer): the poll
    loop must end at its next round, not poll on forever."""
    polls, swallowing = 0, True

    class SwallowingFetch:
        async def getmany(self, **_: Any) -> dict[Any, Any]:
            nonlocal polls
            polls += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if not swallowing:
                    raise
                # what such a library does: the cancellation is lost
            return {}

        def assignment(self) -> set[Any]:
            return set()

    consumer = _consumer(wallets_units, AsyncMock())
    task = asyncio.create_task(consumer._consume(SwallowingFetch()))  # type: ignore[arg-type]
    await asyncio.sleep(0.005)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:  # end it for the next test, then fail
        swallowing = False
        task.cancel()
        await asyncio.wait({task}, timeout=2)
    assert done, f"the consumer polled {polls} times after it was cancelled"
    with pytest.raises(asyncio.CancelledError):
        task.result()
    assert polls == 1


async def test_the_relay_deletes_rows_published_longer_ago_than_its_retention(
    wallets_units: UnitOfWorkFactory,
) -> None:
    now = utcnow()
    published = {"old": now - timedelta(days=8), "recent": now - timedelta(hours=1)}
    async with wallets_units() as uow:
        events = {
            name: add_to_outbox(uow, OutboxMessage, USER, key=name)
            for name in ("old", "recent", "unpublished")
        }
        await uow.commit()
    async with wallets_units() as uow:
        for name, at in published.items():
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.event_id == events[name].id)
                .values(published_at=at)
            )
        await uow.commit()

    async def keys() -> set[str]:
        async with wallets_units() as uow:
            return set((await uow.session.scalars(select(OutboxMessage.key))).all())

    week = 7 * 24 * 3600.0
    bus = KafkaBus("unused:9092")
    kept = OutboxRelay(units=wallets_units, model=OutboxMessage, bus=bus, retention_seconds=0)
    assert await kept.purge_batch() == 0  # 0: kept forever
    # a replay on start sends again what was published in the last ten days: kept for it
    replaying = OutboxRelay(
        units=wallets_units,
        model=OutboxMessage,
        bus=bus,
        replay_seconds=10 * 24 * 3600.0,
        retention_seconds=week,
    )
    assert await replaying.purge_batch() == 0
    relay = OutboxRelay(units=wallets_units, model=OutboxMessage, bus=bus, retention_seconds=week)
    assert await relay.purge_batch() == 1
    assert await keys() == {"recent", "unpublished"}
    assert await relay.purge_batch() == 0
