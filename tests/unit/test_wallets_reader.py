"""The withdrawal pre-check's read of wallets: any replica that answers, and no check
(``None``: the hold decides) when none does or the answer is not a wallet."""

from __future__ import annotations

import httpx

from tijori.payments.balances import WalletsReader

AUTH = "Bearer the-callers-token"


def _reader(answers: dict[str, httpx.Response | None]) -> WalletsReader:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == AUTH
        answer = answers[request.url.host]
        if answer is None:
            raise httpx.ConnectError("refused", request=request)
        return answer

    return WalletsReader(
        [f"http://{host}:8082/" for host in answers],
        timeout=1,
        transport=httpx.MockTransport(handle),
    )


async def test_the_first_replica_that_answers_gives_the_available_paise() -> None:
    reader = _reader(
        {"one": None, "two": httpx.Response(200, json={"balance": "90.00", "available": "60.50"})}
    )
    assert await reader.available(AUTH) == 6050
    await reader.aclose()


async def test_no_answer_or_no_wallet_means_no_pre_check() -> None:
    assert await _reader({"one": None, "two": None}).available(AUTH) is None
    assert await _reader({"one": httpx.Response(404, json={})}).available(AUTH) is None
    assert await _reader({"one": httpx.Response(200, json={"available": 5})}).available(AUTH) == 500
    garbled = httpx.Response(200, json={"available": "5.001"})
    assert await _reader({"one": garbled}).available(AUTH) is None
    assert await _reader({"one": httpx.Response(200, text="<html>")}).available(AUTH) is None
    assert await _reader({"one": httpx.Response(503, json={})}).available(AUTH) is None
    assert await _reader({"one": httpx.Response(200, json={})}).available(None) is None


async def test_one_read_gives_the_available_paise_and_the_kyc_tier() -> None:
    wallet = {"available": "60.50", "kyc_tier": "FULL"}
    known = await _reader({"one": httpx.Response(200, json=wallet)}).read(AUTH)
    assert known is not None and (known.available, known.kyc_tier) == (6050, "FULL")
    older = await _reader({"one": httpx.Response(200, json={"available": "1.00"})}).read(AUTH)
    assert older is not None and older.kyc_tier is None  # a wallets that does not say
    assert await _reader({"one": httpx.Response(200, json=["a list"])}).read(AUTH) is None
