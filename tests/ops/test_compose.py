"""compose.yaml and the Dockerfile configure Tijori with the variables its code reads.

No Docker engine runs where the tests do, so this checks what can be checked without
one: the files parse, every ``TIJORI_*`` name is a setting of some service, every
service is there and waits for the migrations, the wiring between containers agrees
(databases, broker, cache, mail, JWT keys, the gateway's upstreams), and the values
parse into each service's settings. ``docker compose config`` runs too where the
compose plugin is installed.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

import tijori
from tijori.common.auth import TokenKeys
from tijori.gateway.caddy import render_caddyfile
from tijori.gateway.config import GatewaySettings
from tijori.services import DATABASE_SERVICES, SERVICES, TEST_TOOLS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CADDYFILE = ROOT / "infra" / "caddy" / "Caddyfile"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# the configuration table of the public contract (API.md) that a deployment sets
CONTRACT_VARIABLES = {
    "TIJORI_USERS_DATABASE_URL",
    "TIJORI_WALLETS_DATABASE_URL",
    "TIJORI_TRANSACTIONS_DATABASE_URL",
    "TIJORI_NOTIFICATIONS_DATABASE_URL",
    "TIJORI_KAFKA_BOOTSTRAP",
    "TIJORI_REDIS_URL",
    "TIJORI_SMTP_HOST",
    "TIJORI_SMTP_PORT",
    "TIJORI_DATA_DIR",
    "TIJORI_GATEWAY_PORT",
    "TIJORI_PROMO_BALANCE",
}


def settings_classes() -> list[type[BaseSettings]]:
    """Every Settings class of ``tijori.common.config`` and ``tijori.<package>.config``."""
    module_names = ["tijori.common.config"] + [
        f"tijori.{package.name}.config"
        for package in pkgutil.iter_modules(tijori.__path__)
        if package.ispkg and (Path(tijori.__path__[0]) / package.name / "config.py").exists()
    ]
    found = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value.__module__ == module_name
        ]
    return found


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables ``settings`` reads: prefixed field names, or aliases."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def keys_pem() -> dict[str, str]:
    """A fresh Ed25519 key pair, as the JWT variables hold it."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"TIJORI_JWT_PRIVATE_KEY": private.decode(), "TIJORI_JWT_PUBLIC_KEY": public.decode()}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in variables:
            return variables[name]
        if operator and operator.endswith("-"):
            return argument
        raise AssertionError(f"{name} is required: {argument or 'no default'}")

    return INTERPOLATION.sub(one, value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def known_variables() -> set[str]:
    names: set[str] = set()
    for settings in settings_classes():
        names |= env_names(settings)
    return names


@pytest.fixture(scope="module")
def jwt_keys() -> dict[str, str]:
    return keys_pem()


def environment(service: dict[str, Any], variables: dict[str, str]) -> dict[str, str]:
    """A compose service's environment, interpolated, as strings."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {name: interpolate(str(value), variables) for name, value in raw.items()}


def test_the_settings_classes_are_found_with_their_aliases(known_variables: set[str]) -> None:
    assert len(settings_classes()) >= 6
    assert {
        "TIJORI_USERS_DATABASE_URL",
        "TIJORI_KAFKA_BOOTSTRAP",
        "TIJORI_GATEWAY_PORT",
        "TIJORI_USERS_URL",
        "TIJORI_SMTP_HOST",
    } <= known_variables
    assert "TIJORI_DATABASE_URL" not in known_variables  # aliased, so never read


def test_every_tijori_variable_in_compose_and_dockerfile_is_read_by_the_code(
    compose: dict[str, Any], known_variables: set[str]
) -> None:
    used = {
        name
        for service in compose["services"].values()
        for name in service.get("environment") or {}
        if name.startswith("TIJORI_")
    }
    interpolated = {match.group(1) for match in INTERPOLATION.finditer(COMPOSE.read_text())}
    used |= {name for name in interpolated if name.startswith("TIJORI_")}
    dockerfile = set(re.findall(r"\b(TIJORI_[A-Z0-9_]+)=", DOCKERFILE.read_text()))
    assert used, "compose.yaml sets no TIJORI_* variable"
    assert used - known_variables == set(), "compose.yaml sets variables no settings read"
    assert dockerfile - known_variables == set(), "the Dockerfile sets variables no settings read"
    assert CONTRACT_VARIABLES - (used | dockerfile) == set()


def test_every_service_runs_from_the_image_and_waits_for_migrate(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES.keys() - TEST_TOOLS:
        assert name in services, f"compose.yaml has no {name} service"
        service = services[name]
        assert service["command"] == [name]
        assert service["image"] == services["migrate"]["image"]
        assert service["build"] == "."
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_migrates_and_creates_the_topics_once(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    migrate = compose["services"]["migrate"]
    script = " ".join([*migrate.get("entrypoint", []), *migrate["command"]])
    assert "tijori migrate" in script and "tijori topics" in script
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["kafka"]["condition"] == "service_healthy"
    env = environment(migrate, jwt_keys)
    for name in DATABASE_SERVICES:
        key = f"TIJORI_{name.upper()}_DATABASE_URL"
        assert env[key] == environment(compose["services"][name], jwt_keys)[key]


def test_database_urls_point_at_the_mysql_service(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    mysql = compose["services"]["mysql"]
    assert mysql["image"].startswith("mysql:8")
    for name in DATABASE_SERVICES:
        url = make_url(
            environment(compose["services"][name], jwt_keys)[f"TIJORI_{name.upper()}_DATABASE_URL"]
        )
        assert url.drivername == "mysql+asyncmy"
        assert (url.host, url.port, url.database) == ("mysql", 3306, f"tijori_{name}")
        assert url.username == environment(mysql, {})["MYSQL_USER"]
        assert url.password == environment(mysql, {})["MYSQL_PASSWORD"]
        assert f"tijori_{name}" in compose["configs"]["mysql-init"]["content"]


def test_the_broker_is_a_single_kraft_kafka_that_never_creates_topics(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    kafka = compose["services"]["kafka"]
    env = environment(kafka, {})
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]
    for name in (*DATABASE_SERVICES, "migrate"):
        assert environment(compose["services"][name], jwt_keys)["TIJORI_KAFKA_BOOTSTRAP"] == (
            advertised
        )


def test_the_cache_and_mail_are_the_compose_services(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    for name in DATABASE_SERVICES:
        redis_url = make_url(environment(compose["services"][name], jwt_keys)["TIJORI_REDIS_URL"])
        assert redis_url.host == "redis"
    notifications = environment(compose["services"]["notifications"], jwt_keys)
    assert notifications["TIJORI_SMTP_HOST"] in compose["services"]
    assert compose["services"][notifications["TIJORI_SMTP_HOST"]]["image"].startswith(
        "axllent/mailpit"
    )


def test_a_service_that_calls_another_is_given_its_compose_address(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    """A ``<service>_url`` setting defaults to loopback, which in a container is itself:
    compose must name the other container (payments asks wallets before a withdrawal)."""
    services = compose["services"]
    checked = 0
    for settings in settings_classes():
        package = settings.__module__.split(".")[1]
        # Tijori's own containers (the gateway is Caddy's image, its Caddyfile checked apart)
        if services.get(package, {}).get("image") != services["migrate"]["image"]:
            continue
        env = environment(services[package], jwt_keys)
        prefix = str(settings.model_config.get("env_prefix", ""))
        for field_name, field in settings.model_fields.items():
            callee = field_name.removesuffix("_url")
            if callee not in services or not str(field.default).startswith("http://"):
                continue
            variable = f"{prefix}{field_name}".upper()
            assert variable in env, f"{package} is not told where {callee} is ({variable})"
            assert make_url(env[variable]).host == callee, (package, env[variable])
            checked += 1
    assert checked >= 2  # wallets -> users, payments -> wallets


def test_only_users_holds_the_signing_key(
    compose: dict[str, Any], jwt_keys: dict[str, str]
) -> None:
    for name, service in compose["services"].items():
        env = environment(service, jwt_keys)
        assert ("TIJORI_JWT_PRIVATE_KEY" in env) == (name == "users"), name
        verifies = name in (
            "wallets",
            "transactions",
            "transactions-worker",
            "notifications",
            "payments",
        )
        assert ("TIJORI_JWT_PUBLIC_KEY" in env) == verifies, name


def test_the_gateway_is_caddy_with_the_caddyfile_tijori_writes(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official caddy:2 image, configured with infra/caddy/Caddyfile, which is what
    ``tijori caddyfile`` writes from the gateway settings compose gives the aggregator."""
    gateway = compose["services"]["gateway"]
    assert gateway["image"] == "caddy:2"
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in gateway["volumes"]}
    assert (ROOT / mounts["/etc/caddy/Caddyfile"]).resolve() == CADDYFILE
    settings_env = {key: str(value) for key, value in compose["x-gateway-settings"].items()}
    assert mounts[settings_env["TIJORI_WEB_DIR"]] == "./web"
    assert environment(compose["services"]["aggregator"], {}) == settings_env
    with monkeypatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("TIJORI_")]:
            patch.delenv(key)
        for key, value in settings_env.items():
            patch.setenv(key, value)
        settings = GatewaySettings()
    assert CADDYFILE.read_text() == render_caddyfile(settings), "run `tijori caddyfile`"
    for name, info in SERVICES.items():
        if name in TEST_TOOLS:
            continue  # the payment gateway sandbox is no part of a deployment
        if name != "aggregator":
            assert settings.upstreams()[name] == [f"http://{name}:{info.port}"]
        assert gateway["depends_on"][name]["condition"] == "service_healthy"
    assert settings.aggregator_url == f"http://aggregator:{SERVICES['aggregator'].port}"
    # a name stands for every container of a service: `WALLETS_REPLICAS=2 docker compose up`
    assert settings.gateway_upstreams_by_dns
    for name in ("wallets", "transactions"):
        replicas = compose["services"][name]["deploy"]["replicas"]
        assert interpolate(str(replicas), {}) == "1"
        assert interpolate(str(replicas), {f"{name.upper()}_REPLICAS": "2"}) == "2"
    worker = compose["services"]["transactions-worker"]
    assert environment(worker, {"TIJORI_JWT_PUBLIC_KEY": "k"})["TIJORI_ROLE"] == "worker"
    assert set(settings.worker_urls) == {"transactions-worker"}
    published = [str(port).rsplit(":", 1)[1] for port in gateway["ports"]]
    assert str(settings.gateway_port) in published
    assert settings.gateway_host == "0.0.0.0"  # noqa: S104 - inside its container


def test_each_service_accepts_its_compose_environment(
    compose: dict[str, Any], jwt_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values parse into each service's own settings, and the keys sign and verify."""
    token = ""
    for name in ("users", "wallets", "transactions", "notifications", "aggregator"):
        with monkeypatch.context() as patch:
            for key in [key for key in os.environ if key.startswith("TIJORI_")]:
                patch.delenv(key)
            for key, value in environment(compose["services"][name], jwt_keys).items():
                patch.setenv(key, value)
            settings = SERVICES[name].settings()
            if name == "aggregator":
                assert settings.gateway_port == 8080
                assert set(settings.ready_targets()) >= {"users", "transactions-worker"}
                continue
            assert settings.resolved_database_url.startswith("mysql+asyncmy://")
            keys = TokenKeys.from_settings(settings)
            if name == "users":
                token = keys.issue(user_id="u1", authority="USER", ttl=timedelta(minutes=1))
            else:
                assert keys.verify(token).user_id == "u1"


def test_the_dockerfile_builds_a_non_root_image_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK\b", text, re.MULTILINE)
    assert "/health" in text
    entrypoint = re.search(r"^ENTRYPOINT\s+(\[.*\])", text, re.MULTILINE)
    assert entrypoint and yaml.safe_load(entrypoint.group(1))[:2] == ["tijori", "serve"]
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # a whitelist: the build context never carries .env, keys, .venv or .git
    assert patterns[0] == "*"
    assert {"!pyproject.toml", "!src/"} <= set(patterns)
    assert not [pattern for pattern in patterns if pattern.startswith("!.")]


def test_docker_compose_config_accepts_the_file(jwt_keys: dict[str, str]) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here")
    if subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode:
        pytest.skip("the docker compose plugin is not installed")
    checked = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        env=os.environ | jwt_keys,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
