"""deploy/ as Kubernetes will run it (each overlay rendered by kustomize): the probes reach the service's
own endpoints on its own port, a pod's shutdown fits its grace period, and the settings the overlays give
are ones the service accepts once a deployer has filled in their `<...>` values, and refuses before."""

from __future__ import annotations

import subprocess
from functools import cache
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from config import PROJECT_ROOT, Settings
from servicekit import SettingsError, load_settings

OVERLAYS = ("staging", "production")
# What the Secret `directmail` holds in a real cluster: stand-ins that pass the service's own checks.
SECRETS = {"database_url": "postgresql://directmail:from-the-secret@db.internal:5432/directmail"}
# What a deployer puts in place of each <...> of an overlay's settings.env (scripts/register_entra_app.sh
# prints the first three).
FILLED_IN = {
    "AUTH_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "AUTH_AUDIENCE": "0b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9,api://0b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9",
    "SWAGGER_UI_CLIENT_ID": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "CORS_ORIGINS": "https://portal.gigaclear.com",
    "SALESFORCE_URL": "https://gigaclear.my.salesforce.com",
    "SALESFORCE_CLIENT_ID": "3MVG9-the-consumer-key",
    "ELASTIC_APM_SERVER_URL": "https://apm.gigaclear.internal:8200",
}


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    output = subprocess.run(
        [PROJECT_ROOT / "scripts" / "check_manifests.sh", "render", overlay],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return tuple(document for document in yaml.safe_load_all(output) if document)


def the(overlay: str, kind: str, name: str = "") -> dict[str, Any]:
    found = [o for o in rendered(overlay) if o["kind"] == kind and (not name or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{overlay}: {len(found)} {kind} {name}"
    return found[0]


def settings_of(overlay: str) -> dict[str, str]:
    data: dict[str, str] = the(overlay, "ConfigMap")["data"]
    return data


def left_to_fill_in(overlay: str) -> set[str]:
    return {name for name, value in settings_of(overlay).items() if value.startswith("<")}


def deployed_settings(overlay: str, **variables: str) -> Settings:
    """The service's settings from the overlay's ConfigMap, its `<...>` values filled in, and `variables`."""
    values = settings_of(overlay) | {name: FILLED_IN[name] for name in left_to_fill_in(overlay)} | variables
    return load_settings(Settings, _env_file=None, **{name.lower(): value for name, value in values.items()}, **SECRETS)


def seconds(overlay: str, name: str) -> float:
    return float(settings_of(overlay)[name])


def container(overlay: str) -> dict[str, Any]:
    (served,) = the(overlay, "Deployment")["spec"]["template"]["spec"]["containers"]
    return served  # type: ignore[no-any-return]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_probes_ask_the_services_own_endpoints_on_its_port(overlay: str) -> None:
    served = container(overlay)
    ports = {port["name"]: port["containerPort"] for port in served["ports"]}
    assert ports["http"] == int(settings_of(overlay)["PORT"])
    assert served["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert served["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert served["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service_port = the(overlay, "Service")["spec"]["ports"][0]
    assert service_port["targetPort"] == "http"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_pod_leaves_the_service_before_it_stops_and_its_downloads_end_within_the_grace(overlay: str) -> None:
    pod = the(overlay, "Deployment")["spec"]["template"]["spec"]
    served = container(overlay)
    readiness = served["readinessProbe"]
    pause = served["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain, shutdown = seconds(overlay, "SHUTDOWN_DRAIN_SECONDS"), seconds(overlay, "SHUTDOWN_TIMEOUT_SECONDS")
    # Failing readiness takes the pod out of the Service within period x threshold: the drain outlasts it.
    assert drain >= readiness["periodSeconds"] * readiness["failureThreshold"]
    # A download as long as one statement may run still finishes before uvicorn cuts it.
    assert shutdown >= seconds(overlay, "DOWNLOAD_STATEMENT_TIMEOUT_SECONDS")
    # Kubernetes kills nothing the service would still let finish.
    assert pod["terminationGracePeriodSeconds"] > pause + drain + shutdown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_the_images_user_on_a_read_only_root(overlay: str) -> None:
    templates = [the(overlay, "Deployment")["spec"]["template"], the(overlay, "Job")["spec"]["template"]]
    templates.append(the(overlay, "CronJob")["spec"]["jobTemplate"]["spec"]["template"])
    for template in templates:
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        for each in pod["containers"]:
            assert each["securityContext"]["readOnlyRootFilesystem"] is True
            assert each["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert {"name": "tmp", "mountPath": "/tmp"} in each["volumeMounts"]
            assert set(each["resources"]) == {"requests", "limits"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_names_real_settings_and_no_secret(overlay: str) -> None:
    fields = Settings.model_fields
    for name in settings_of(overlay):
        assert name.lower() in fields, f"{name} is not a setting"
        assert fields[name.lower()].annotation not in (SecretStr, SecretStr | None), f"{name} is a secret"
        assert "database_url" not in name.lower(), f"{name} carries a password"
    assert not [o for o in rendered(overlay) if o["kind"] == "Secret"], "secrets are made outside the repository"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_service_accepts_the_overlays_settings_once_filled_in_and_none_is_lenient(overlay: str) -> None:
    assert left_to_fill_in(overlay) == FILLED_IN.keys()
    settings = deployed_settings(overlay)
    assert settings.environment == overlay
    assert not settings.is_development  # no dev login, no embedded database


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_pod_starts_while_a_value_is_left_to_fill_in(overlay: str) -> None:
    for name in left_to_fill_in(overlay):
        with pytest.raises(SettingsError, match=rf"^{name}: "):
            deployed_settings(overlay, **{name: settings_of(overlay)[name]})


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("AUTH_TENANT_ID", "00000000-0000-0000-0000-000000000000"),
        ("AUTH_AUDIENCE", "33333333-3333-3333-3333-333333333333,api://33333333-3333-3333-3333-333333333333"),
        ("SWAGGER_UI_CLIENT_ID", "44444444-4444-4444-4444-444444444444"),
    ],
)
def test_no_pod_starts_with_the_docs_example_ids(overlay: str, name: str, example: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{name}: .* is an example or a placeholder"):
        deployed_settings(overlay, **{name: example})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_salesforce_sync_never_overlaps_itself(overlay: str) -> None:
    sync = the(overlay, "CronJob")["spec"]
    assert sync["concurrencyPolicy"] == "Forbid"
    (each,) = sync["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert each["args"] == ["sync-salesforce"]
    (migrate,) = the(overlay, "Job")["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_the_jobs_statements_end_before_kubernetes_kills_them(overlay: str, kind: str) -> None:
    # PostgreSQL does not notice a killed client mid-statement: the statement would run on, its locks held.
    manifest = the(overlay, kind)["spec"]
    job = manifest["jobTemplate"]["spec"] if kind == "CronJob" else manifest
    (container,) = job["template"]["spec"]["containers"]
    environment = {variable["name"]: variable["value"] for variable in container["env"]}
    settings = deployed_settings(overlay, **environment)
    assert settings.command_statement_timeout_seconds < job["activeDeadlineSeconds"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_connections_fit_postgresqls_default(overlay: str) -> None:
    # README, Scaling out: each pod holds up to WORKER_THREADS + EXPORT_CONCURRENCY + 2 connections to each
    # database it uses (the pool's, its downloads' second backends', the readiness check's and the database
    # watch's).
    pods = the(overlay, "HorizontalPodAutoscaler")["spec"]["maxReplicas"]
    settings = deployed_settings(overlay)
    second_backends = settings.export_concurrency * (settings.download_backends - 1)
    per_pod = settings.worker_threads + second_backends + 2
    assert pods * per_pod + 2 <= 100 - 3  # beside the migration and the sync; 3 kept for superusers
