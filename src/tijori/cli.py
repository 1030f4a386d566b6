"""``tijori``: the command line behind ``make run``, ``make test`` and ``make bench``."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tijori.common.config import UPSTREAM_KEEP_ALIVE_SECONDS
from tijori.services import DATABASE_SERVICES, GATEWAY, SERVICES

if TYPE_CHECKING:
    from tijori.gateway.config import GatewaySettings


def _gateway_settings(args: argparse.Namespace) -> GatewaySettings:
    """The gateway's settings from the environment, with the command line's port and host."""
    from tijori.gateway.config import GatewaySettings

    settings = GatewaySettings()
    if getattr(args, "port", None):
        settings.gateway_port = args.port
    if getattr(args, "host", None):
        settings.gateway_host = args.host
    return settings


def _serve_gateway(args: argparse.Namespace) -> int:
    from tijori.gateway.caddy import CaddyNotFoundError, exec_caddy

    try:
        exec_caddy(_gateway_settings(args))  # this process becomes Caddy
    except (CaddyNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
    return 1


def _caddyfile(args: argparse.Namespace) -> int:
    from tijori.gateway.caddy import render_caddyfile

    print(render_caddyfile(_gateway_settings(args)), end="")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tijori.common.logging import configure_logging

    if args.service == GATEWAY:
        return _serve_gateway(args)
    faulthandler.enable()  # a crash in native code still leaves a traceback in the log
    info = SERVICES[args.service]
    if args.role is not None:
        os.environ["TIJORI_ROLE"] = args.role
    if args.nice is not None:
        os.environ["TIJORI_NICE"] = str(args.nice)
    settings = info.settings()
    process = f"{info.name}-worker" if settings.role == "worker" else info.name
    configure_logging(service=process, level=settings.log_level, fmt=settings.log_format)
    if settings.nice:
        os.nice(settings.nice)
        logging.getLogger("tijori").info(
            "%s runs at a lower CPU priority (nice %d)", process, settings.nice
        )
    # a service whose settings name its own port (TIJORI_SANDBOX_PORT) is served there
    port = args.port or getattr(settings, f"{info.name}_port", info.port)
    app = info.app_factory()(settings)
    _collect_garbage_less_often()
    uvicorn.run(
        app,
        host=args.host or "127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        timeout_graceful_shutdown=10,
        # longer than the gateway keeps an idle connection, so it never reuses one that
        # the service is closing (a POST on it would fail)
        timeout_keep_alive=UPSTREAM_KEEP_ALIVE_SECONDS,
    )
    return 0


# CPython collects its youngest generation every 700 net allocations by default; a busy
# service allocates that many in well under a request (SQLAlchemy, pydantic), so it
# collected thousands of times a second. Collecting ~70 times less often took 12-16% off
# the CPU a transfer costs (docs/performance.md); reference cycles are still collected,
# later.
GC_THRESHOLDS = (50_000, 50, 100)
# the highest port a service gets with the offset stays below 65536 (broker 29092 + offset)
MAX_PORT_OFFSET = 36000


def _collect_garbage_less_often() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # what start-up built stays: later full collections need not scan it


def _migrate(args: argparse.Namespace) -> int:
    from tijori.common.migrations import upgrade

    unknown = set(args.services) - set(DATABASE_SERVICES)
    if unknown:
        print(f"no such service: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for name in args.services or DATABASE_SERVICES:
        settings = SERVICES[name].settings()
        print(f"migrating {name} ...", flush=True)
        upgrade(name, settings.resolved_database_url)
    return 0


def _topics(_: argparse.Namespace) -> int:
    from tijori.common.bus import KafkaBus
    from tijori.common.config import CommonSettings

    settings = CommonSettings()
    if not settings.kafka_bootstrap:
        print("TIJORI_KAFKA_BOOTSTRAP is not set: no broker to create topics on", file=sys.stderr)
        return 2
    bus = KafkaBus(settings.kafka_bootstrap, prefix=settings.kafka_topic_prefix)
    made = asyncio.run(bus.create_topics())
    print(f"topics ready ({len(made)} created)")
    return 0


def _asyncapi(args: argparse.Namespace) -> int:
    from tijori.asyncapi import write_document

    return write_document(output=args.output, fmt=args.format, topic_prefix=args.topic_prefix)


def _up(args: argparse.Namespace) -> int:
    from tijori.supervisor import run_all

    return run_all(replicas=args.replicas, port_offset=args.port_offset)


def _replicas(text: str) -> dict[str, int]:
    from tijori.supervisor import parse_replicas

    try:
        return parse_replicas(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _port_offset(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_PORT_OFFSET:
        raise argparse.ArgumentTypeError(f"a whole number from 0 to {MAX_PORT_OFFSET}")
    return int(text)


def _audit(args: argparse.Namespace) -> int:
    from tijori.audit import run_audit

    report = asyncio.run(run_audit())
    print(report.render())
    return 0 if report.clean else 1


def _reconcile(_: argparse.Namespace) -> int:
    from tijori.payments.razorpay import GatewayRefusedError, GatewayUnavailableError
    from tijori.reconcile import run_reconcile

    try:
        report = asyncio.run(run_reconcile())
    except (GatewayUnavailableError, GatewayRefusedError) as error:
        print(f"tijori reconcile: the gateway did not answer: {error}", file=sys.stderr)
        return 2
    print(report.render())
    return 0 if report.clean else 1


def _grant_admin(args: argparse.Namespace) -> int:
    from tijori.users.admin import grant_admin

    if not asyncio.run(grant_admin(args.email)):
        print(f"no user with e-mail {args.email}", file=sys.stderr)
        return 1
    print(f"{args.email} is now an ADMIN")
    return 0


def _mail(args: argparse.Namespace) -> int:
    from tijori.common.config import CommonSettings
    from tijori.common.mailbox import read_mailbox

    # `tijori mail | head` ends quietly; never in a server, where a peer that hangs up
    # would then kill the process without a word
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    maildir = CommonSettings().data_dir / "mail"
    items = read_mailbox(maildir, receiver=args.to, limit=args.limit)
    if not items:
        print(f"no mail in {maildir}" + (f" for {args.to}" if args.to else ""))
        return 0
    if args.show is not None:
        chosen = items[min(args.show, len(items)) - 1]
        print(f"From: {chosen.sender}\nTo: {chosen.receiver}\nDate: {chosen.date}")
        print(f"Subject: {chosen.subject}\n\n{chosen.body}")
        return 0
    for number, item in enumerate(items, start=1):
        print(f"{number:>3}  {item.date[:25]:<25}  {item.receiver:<32}  {item.subject}")
    print("\n`tijori mail --show N` prints message N")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``tijori`` command and its sub-commands."""
    parser = argparse.ArgumentParser(prog="tijori", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run every service, each as its own process")
    up.add_argument(
        "--replicas",
        type=_replicas,
        default={},
        metavar="PROCESS=N,...",
        help="run N processes of these, e.g. transactions=2,wallets=2: the gateway balances "
        "requests across them, Kafka's consumer groups share the events",
    )
    up.add_argument(
        "--port-offset",
        type=_port_offset,
        default=0,
        metavar="N",
        help="add N to every port it uses (services, gateway, broker, mail): a second Tijori "
        "beside the first, as make bench runs one (0 to 36000)",
    )
    up.set_defaults(func=_up)

    serve = commands.add_parser(
        "serve", help="run one service's HTTP server, or the gateway (Caddy)"
    )
    serve.add_argument("service", choices=[*SERVICES, GATEWAY])
    serve.add_argument("--host", default=None, help="default 127.0.0.1 (TIJORI_GATEWAY_HOST)")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--role",
        choices=("all", "api", "worker"),
        default=None,
        help="all (default): HTTP and every background loop; api: HTTP and the outbox "
        "relay; worker: the consumers and loops (TIJORI_ROLE)",
    )
    serve.add_argument(
        "--nice",
        type=int,
        choices=range(20),
        metavar="0-19",
        default=None,
        help="run at this much lower CPU priority (TIJORI_NICE; tijori up gives 10 to the "
        "processes that mostly work in the background)",
    )
    serve.set_defaults(func=_serve)

    caddyfile = commands.add_parser(
        "caddyfile", help="print the gateway's Caddyfile for the TIJORI_* settings"
    )
    caddyfile.add_argument("--port", type=int, default=None, help="TIJORI_GATEWAY_PORT")
    caddyfile.add_argument("--host", default=None, help="TIJORI_GATEWAY_HOST")
    caddyfile.set_defaults(func=_caddyfile)

    migrate = commands.add_parser("migrate", help="bring service databases up to date")
    migrate.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(DATABASE_SERVICES)}"
    )
    migrate.set_defaults(func=_migrate)

    topics = commands.add_parser("topics", help="create the Kafka topics of every event type")
    topics.set_defaults(func=_topics)

    asyncapi = commands.add_parser("asyncapi", help="print the AsyncAPI document of the events")
    asyncapi.add_argument("-o", "--output", type=Path, help="write here (JSON, or YAML for .yaml)")
    asyncapi.add_argument("--format", choices=("json", "yaml"), help="default: from --output")
    asyncapi.add_argument("--topic-prefix", default="", help="TIJORI_KAFKA_TOPIC_PREFIX to show")
    asyncapi.set_defaults(func=_asyncapi)

    audit = commands.add_parser("audit", help="check that the money adds up; non-zero exit if not")
    audit.set_defaults(func=_audit)

    reconcile = commands.add_parser(
        "reconcile",
        help="compare the payment gateway's books with Tijori's; non-zero exit on a difference",
    )
    reconcile.set_defaults(func=_reconcile)

    mail = commands.add_parser("mail", help="read the local mailbox of `tijori up`")
    mail.add_argument("--to", help="only mail to this address")
    mail.add_argument("--limit", type=int, default=20)
    mail.add_argument("--show", type=int, metavar="N", help="print message N in full")
    mail.set_defaults(func=_mail)

    grant = commands.add_parser("grant-admin", help="make a user an ADMIN")
    grant.add_argument("email")
    grant.set_defaults(func=_grant_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
