"""scripts/register_entra_app.sh against a fake `az` (there is no Azure here): what it creates, that a
second run changes nothing, that --dry-run only looks, and that what it prints is what the service reads.

The fake knows only the commands and arguments the script is meant to use, and fails like az does
(argparse's usage error, exit 2) on anything else, so a wrongly called az fails these tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config import PROJECT_ROOT, Settings
from servicekit import load_settings

SCRIPT = PROJECT_ROOT / "scripts" / "register_entra_app.sh"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HOSTS = ("directmail.example.com", "directmail.internal.example.com")

BASH = shutil.which("bash") or "/bin/bash"

FAKE_AZ = textwrap.dedent('''
    """A fake Azure CLI: the few `az` commands register_entra_app.sh uses, over a JSON file of state."""
    import argparse, json, os, re, sys, uuid

    STATE, LOG = os.environ["FAKE_AZ_STATE"], os.environ["FAKE_AZ_LOG"]
    GRAPH_APP = re.compile(r"https://graph[.]microsoft[.]com/v1[.]0/applications/([0-9a-f-]{36})")
    PATCHABLE = {"api", "spa", "requiredResourceAccess"}

    with open(LOG, "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
    with open(STATE) as f:
        state = json.load(f)

    def fail(message, code=1):
        print(f"ERROR: {message}", file=sys.stderr)
        sys.exit(code)

    def parser(*options, query=True):
        p = argparse.ArgumentParser(prog="az")
        for option in options:
            p.add_argument(option, required=option not in ("--filter", "--identifier-uri"))
        if query:
            p.add_argument("--query", required=True)
            p.add_argument("-o", "--output", choices=["json", "tsv"], required=True)
        return p

    def query(args, value):
        match = re.fullmatch(r"(\\[\\][.])?([A-Za-z]+)", args.query)
        if not match:
            fail(f"the fake does not know the query {args.query!r}", 2)
        mapped, field = match.groups()
        value = [item[field] for item in value] if mapped else value[field]
        if args.output == "json":
            print(json.dumps(value))
        else:
            print("\\n".join(value) if isinstance(value, list) else value)

    def find_app(app_id):
        for app in state["apps"]:
            if app["appId"] == app_id:
                return app
        fail(f"Resource '{app_id}' does not exist or one of its queried reference-property objects are not present.")

    def guid(value):
        try:
            return str(uuid.UUID(value)) == value
        except (ValueError, TypeError):
            return False

    def save():
        with open(STATE, "w") as f:
            json.dump(state, f, indent=2)

    if sys.argv[1:3] == ["account", "show"]:
        args = parser().parse_args(sys.argv[3:])
        if not state["logged_in"]:
            fail("Please run 'az login' to setup account.")
        query(args, {"tenantId": state["tenant"]})
    elif sys.argv[1:4] == ["ad", "app", "list"]:
        args = parser("--filter", "--identifier-uri").parse_args(sys.argv[4:])
        if args.identifier_uri is not None:
            apps = [a for a in state["apps"] if args.identifier_uri in a["identifierUris"]]
        else:
            name = re.fullmatch(r"displayName eq '([^']*)'", args.filter or "")
            if not name:
                fail(f"the fake does not know the filter {args.filter!r}", 2)
            apps = [a for a in state["apps"] if a["displayName"] == name[1]]
        query(args, apps)
    elif sys.argv[1:4] == ["ad", "app", "create"]:
        args = parser("--display-name", "--sign-in-audience").parse_args(sys.argv[4:])
        if args.sign_in_audience != "AzureADMyOrg":
            fail(f"unexpected --sign-in-audience {args.sign_in_audience}", 2)
        app = {
            "appId": str(uuid.uuid4()), "id": str(uuid.uuid4()), "displayName": args.display_name,
            "signInAudience": args.sign_in_audience, "identifierUris": [], "appRoles": [],
            "api": {"acceptMappedClaims": None, "knownClientApplications": [], "oauth2PermissionScopes": [],
                    "preAuthorizedApplications": [], "requestedAccessTokenVersion": None},
            "spa": {"redirectUris": []}, "requiredResourceAccess": [],
            "web": {"redirectUris": [], "homePageUrl": None},
        }
        state["apps"].append(app)
        save()
        query(args, app)
    elif sys.argv[1:4] == ["ad", "app", "show"]:
        p = parser("--id", query=False)
        p.add_argument("-o", "--output", choices=["json"], required=True)
        print(json.dumps(find_app(p.parse_args(sys.argv[4:]).id)))
    elif sys.argv[1:4] == ["ad", "app", "update"]:
        p = parser("--id", query=False)
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--identifier-uris", nargs="+")
        group.add_argument("--app-roles")
        args = p.parse_args(sys.argv[4:])
        app = find_app(args.id)
        if args.identifier_uris:
            app["identifierUris"] = args.identifier_uris
        else:
            if not args.app_roles.startswith("@"):
                fail("the fake reads --app-roles from @file only", 2)
            with open(args.app_roles[1:]) as f:
                roles = json.load(f)
            for role in roles:
                if not guid(role["id"]) or not set(role["allowedMemberTypes"]) <= {"User", "Application"}:
                    fail(f"Invalid value specified for property 'appRoles' of resource 'Application': {role}")
            # Graph adds `origin` to what it stores.
            app["appRoles"] = [{**role, "origin": "Application"} for role in roles]
        save()
    elif sys.argv[1:4] == ["ad", "sp", "list"]:
        args = parser("--filter").parse_args(sys.argv[4:])
        app_id = re.fullmatch(r"appId eq '([0-9a-f-]{36})'", args.filter or "")
        if not app_id:
            fail(f"the fake does not know the filter {args.filter!r}", 2)
        query(args, [sp for sp in state["sps"] if sp["appId"] == app_id[1]])
    elif sys.argv[1:4] == ["ad", "sp", "create"]:
        args = parser("--id").parse_args(sys.argv[4:])
        find_app(args.id)
        if any(sp["appId"] == args.id for sp in state["sps"]):
            fail("Another object with the same value for property servicePrincipalNames already exists.")
        sp = {"appId": args.id, "id": str(uuid.uuid4())}
        state["sps"].append(sp)
        save()
        query(args, sp)
    elif sys.argv[1:2] == ["rest"]:
        args = parser("--method", "--uri", "--headers", "--body", query=False).parse_args(sys.argv[2:])
        uri = GRAPH_APP.fullmatch(args.uri)
        if args.method != "PATCH" or not uri or args.headers != "Content-Type=application/json":
            fail(f"the fake does not know {args.method} {args.uri} {args.headers}", 2)
        if not args.body.startswith("@"):
            fail("the fake reads --body from @file only", 2)
        with open(args.body[1:]) as f:
            body = json.load(f)
        apps = [a for a in state["apps"] if a["id"] == uri[1]]
        if not apps:
            fail("Not Found({\\"error\\":{\\"code\\":\\"Request_ResourceNotFound\\"}})")
        app = apps[0]
        if not set(body) <= PATCHABLE:
            fail(f"the fake does not PATCH {sorted(set(body) - PATCHABLE)}", 2)
        api = body.get("api", app["api"])
        scopes = {s["id"] for s in api["oauth2PermissionScopes"]}
        if api["requestedAccessTokenVersion"] not in (None, 1, 2) or not all(guid(s) for s in scopes):
            fail(f"Bad Request: invalid api {api}")
        if scopes and not app["identifierUris"]:
            fail("Bad Request: a scope needs an App ID URI first")
        for pre in api["preAuthorizedApplications"]:
            if not set(pre["delegatedPermissionIds"]) <= scopes:
                fail("Bad Request: Property PreAuthorizedApplication references non-existing permissions")
        for uri_ in body.get("spa", {}).get("redirectUris", []):
            if not re.fullmatch(r"(https://[^/]+|http://localhost(:[0-9]+)?)/.*", uri_):
                fail(f"Bad Request: redirect URI {uri_}")
        # The strictest reading of PATCH: each complex property given replaces the stored one.
        app.update(body)
        save()
    else:
        fail(f"the fake does not know 'az {' '.join(sys.argv[1:4])}'", 2)
''')


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]

    @property
    def changes(self) -> list[list[str]]:
        """The calls that change something in Entra (everything but account show, list and show)."""
        return [
            call for call in self.calls if call[:2] != ["account", "show"] and call[2:3] not in (["list"], ["show"])
        ]

    @property
    def settings(self) -> dict[str, str]:
        lines = [line for line in self.stdout.splitlines() if line and not line.startswith("#")]
        return dict(line.split("=", 1) for line in lines)


class FakeAzure:
    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        az = self.bin / "az"
        az.write_text(f"#!{sys.executable}\n{FAKE_AZ}")
        az.chmod(0o755)
        self.state_file = tmp_path / "az-state.json"
        self.log = tmp_path / "az-calls.log"
        self.state = {"logged_in": True, "tenant": TENANT_ID, "apps": [], "sps": []}

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(value))

    def app(self, display_name: str) -> dict[str, Any]:
        apps: list[dict[str, Any]] = [app for app in self.state["apps"] if app["displayName"] == display_name]
        (app,) = apps
        return app

    def run(self, *args: str, path: str | None = None) -> Run:
        self.log.write_text("")
        env = {
            **os.environ,
            "PATH": path if path is not None else f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_STATE": str(self.state_file),
            "FAKE_AZ_LOG": str(self.log),
        }
        env.pop("AZ", None)
        done = subprocess.run(
            [BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return Run(done.returncode, done.stdout, done.stderr, calls)


DEPLOY = ("--environment", "production", "--host", HOSTS[0], "--host", HOSTS[1])
API = "Directmail API (production)"
SWAGGER_UI = "Directmail Swagger UI (production)"


@pytest.fixture
def azure(tmp_path: Path) -> FakeAzure:
    return FakeAzure(tmp_path)


def test_a_first_run_registers_the_api_and_swagger_ui(azure: FakeAzure) -> None:
    run = azure.run(*DEPLOY)
    assert run.returncode == 0, run.stderr

    assert [app["displayName"] for app in azure.state["apps"]] == [API, SWAGGER_UI]
    api, spa = azure.app(API), azure.app(SWAGGER_UI)
    assert api["identifierUris"] == [f"api://{api['appId']}"]
    assert api["api"]["requestedAccessTokenVersion"] == 2
    (role,) = api["appRoles"]
    assert (role["value"], role["isEnabled"], sorted(role["allowedMemberTypes"])) == (
        "Directmail.Read",
        True,
        ["Application", "User"],
    )
    (scope,) = api["api"]["oauth2PermissionScopes"]
    assert (scope["value"], scope["isEnabled"]) == ("Directmail.Read", True)
    assert uuid.UUID(role["id"])
    assert uuid.UUID(scope["id"])
    assert api["api"]["preAuthorizedApplications"] == [{"appId": spa["appId"], "delegatedPermissionIds": [scope["id"]]}]

    assert spa["spa"]["redirectUris"] == sorted(f"https://{host}/ui/oauth2-redirect.html" for host in HOSTS)
    assert spa["web"]["redirectUris"] == []
    assert spa["identifierUris"] == []
    assert spa["requiredResourceAccess"] == [
        {"resourceAppId": api["appId"], "resourceAccess": [{"id": scope["id"], "type": "Scope"}]}
    ]
    assert sorted(sp["appId"] for sp in azure.state["sps"]) == sorted([api["appId"], spa["appId"]])

    assert run.settings == {
        "AUTH_TENANT_ID": TENANT_ID,
        "AUTH_AUDIENCE": f"{api['appId']},api://{api['appId']}",
        "SWAGGER_UI_CLIENT_ID": spa["appId"],
    }


def test_the_printed_settings_are_what_the_service_reads(azure: FakeAzure) -> None:
    run = azure.run(*DEPLOY)
    assert run.returncode == 0, run.stderr
    api_app_id = azure.app(API)["appId"]

    settings = load_settings(
        Settings,
        _env_file=None,
        environment="production",
        database_url="postgresql://directmail:not-a-real-password@db:5432/directmail",
        **{name.lower(): value for name, value in run.settings.items()},
    )

    assert settings.auth_tenant_id == TENANT_ID
    assert settings.auth_audience == (api_app_id, f"api://{api_app_id}")
    assert settings.swagger_ui_client_id == azure.app(SWAGGER_UI)["appId"]
    # The spec's scope is named as registered: Swagger UI asks Entra for api://<client id>/Directmail.Read.
    assert settings.api_scope_prefix == azure.app(API)["identifierUris"][0]
    assert settings.entra_issuers == (f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",)


def test_a_second_run_changes_nothing_and_keeps_the_ids(azure: FakeAzure) -> None:
    first = azure.run(*DEPLOY)
    assert first.returncode == 0, first.stderr
    before = azure.state

    second = azure.run(*DEPLOY)

    assert second.returncode == 0, second.stderr
    assert second.changes == []
    assert azure.state == before
    assert second.stdout == first.stdout


def test_a_changed_host_list_updates_only_the_redirect_uris(azure: FakeAzure) -> None:
    assert azure.run(*DEPLOY).returncode == 0
    api_before = azure.app(API)

    run = azure.run("--environment", "production", "--host", HOSTS[0], "--localhost")

    assert run.returncode == 0, run.stderr
    spa = azure.app(SWAGGER_UI)
    assert [call[:3] for call in run.changes] == [["rest", "--method", "PATCH"]]
    assert spa["id"] in run.changes[0][4]
    assert spa["spa"]["redirectUris"] == [
        "http://localhost:8080/ui/oauth2-redirect.html",
        f"https://{HOSTS[0]}/ui/oauth2-redirect.html",
    ]
    assert azure.app(API) == api_before


def test_what_is_already_there_is_kept(azure: FakeAzure) -> None:
    """Another role, scope or pre-authorised client on the API stays; ours are found by value and fixed."""
    assert azure.run(*DEPLOY).returncode == 0
    state = azure.state
    api = next(app for app in state["apps"] if app["displayName"] == API)
    role_id, scope_id = api["appRoles"][0]["id"], api["api"]["oauth2PermissionScopes"][0]["id"]
    other_role = {**api["appRoles"][0], "id": str(uuid.uuid4()), "value": "Directmail.Write"}
    api["appRoles"][0]["allowedMemberTypes"] = ["Application"]  # someone narrowed it by hand
    api["appRoles"].append(other_role)
    other_client = {"appId": str(uuid.uuid4()), "delegatedPermissionIds": [scope_id]}
    api["api"]["preAuthorizedApplications"].append(other_client)
    api["api"]["requestedAccessTokenVersion"] = None
    azure.state = state

    run = azure.run(*DEPLOY)

    assert run.returncode == 0, run.stderr
    api = azure.app(API)
    assert [(role["id"], sorted(role["allowedMemberTypes"])) for role in api["appRoles"]] == [
        (role_id, ["Application", "User"]),
        (other_role["id"], ["Application", "User"]),
    ]
    assert [scope["id"] for scope in api["api"]["oauth2PermissionScopes"]] == [scope_id]
    assert api["api"]["requestedAccessTokenVersion"] == 2
    assert other_client in api["api"]["preAuthorizedApplications"]
    assert len(azure.state["apps"]) == 2


def test_a_dry_run_only_looks(azure: FakeAzure) -> None:
    run = azure.run(*DEPLOY, "--dry-run")

    assert run.returncode == 0, run.stderr
    assert run.changes == []
    assert run.calls[0] == ["account", "show", "--query", "tenantId", "-o", "tsv"]
    assert azure.state["apps"] == []
    would_run = [line for line in run.stderr.splitlines() if line.startswith("would run:")]
    assert sum("ad app create --display-name Directmail\\ API\\ \\(production\\)" in line for line in would_run) == 1
    assert sum(
        "ad app create --display-name Directmail\\ Swagger\\ UI\\ \\(production\\)" in line for line in would_run
    )
    assert sum(" rest --method PATCH " in line for line in would_run) == 3
    assert sum(" ad sp create " in line for line in would_run) == 2
    assert any("--app-roles" in line for line in would_run)
    assert "oauth2-redirect.html" in run.stderr
    assert "requestedAccessTokenVersion" in run.stderr
    assert run.settings["SWAGGER_UI_CLIENT_ID"] == "<swagger-ui-client-id>"


def test_a_dry_run_after_a_change_prints_only_that_change(azure: FakeAzure) -> None:
    assert azure.run(*DEPLOY).returncode == 0
    before = azure.state

    unchanged = azure.run(*DEPLOY, "--dry-run")
    changed = azure.run(*DEPLOY, "--localhost", "--dry-run")

    assert unchanged.changes == changed.changes == []
    assert "would run:" not in unchanged.stderr
    (line,) = [line for line in changed.stderr.splitlines() if line.startswith("would run:")]
    assert f"applications/{azure.app(SWAGGER_UI)['id']}" in line
    assert "http://localhost:8080/ui/oauth2-redirect.html" in changed.stderr
    assert azure.state == before


def test_without_az_it_says_so(azure: FakeAzure, tmp_path: Path) -> None:
    """Nothing on PATH at all (so not a real az either): the script checks for az before using anything else."""
    path = tmp_path / "empty"
    path.mkdir()

    run = azure.run(*DEPLOY, path=str(path))

    assert run.returncode != 0
    assert "the Azure CLI ('az') is not installed" in run.stderr


def test_logged_out_it_says_so(azure: FakeAzure) -> None:
    azure.state = {**azure.state, "logged_in": False}

    run = azure.run(*DEPLOY)

    assert run.returncode != 0
    assert "az is not logged in: run 'az login'" in run.stderr
    assert run.calls == [["account", "show", "--query", "tenantId", "-o", "tsv"]]
    assert run.stdout == ""


def test_two_apps_of_one_name_are_not_guessed_between(azure: FakeAzure) -> None:
    assert azure.run(*DEPLOY).returncode == 0
    state = azure.state
    state["apps"].append({**state["apps"][0], "appId": str(uuid.uuid4()), "id": str(uuid.uuid4())})
    azure.state = state

    run = azure.run(*DEPLOY)

    assert run.returncode != 0
    assert f"several app registrations are named '{API}'" in run.stderr
    assert run.changes == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--host", HOSTS[0]), "--environment is required"),
        (("--environment", "production"), "give at least one --host"),
        (("--environment", "prod'; drop", "--host", HOSTS[0]), "not a plain name"),
        (("--environment", "production", "--host", "a.example.com/ui?x"), "not a host name"),
        (("--environment", "production", "--frobnicate"), "unknown argument: --frobnicate"),
    ],
)
def test_wrong_arguments_are_refused_before_az_is_called(azure: FakeAzure, args: tuple[str, ...], message: str) -> None:
    run = azure.run(*args)

    assert run.returncode != 0
    assert message in run.stderr
    assert run.calls == []


def test_help(azure: FakeAzure) -> None:
    run = azure.run("--help")

    assert run.returncode == 0
    assert "--dry-run" in run.stdout
    assert "--environment" in run.stdout
    assert run.calls == []


def test_an_app_id_uri_of_ones_own_names_the_scopes_and_finds_the_api(azure: FakeAzure) -> None:
    uri = f"api://{TENANT_ID}/directmail"
    first = azure.run(*DEPLOY, "--app-id-uri", uri)
    assert first.returncode == 0, first.stderr
    api = azure.app(API)
    assert api["identifierUris"] == [uri]
    assert first.settings["AUTH_AUDIENCE"] == f"{api['appId']},{uri}"
    settings = load_settings(
        Settings,
        _env_file=None,
        environment="production",
        database_url="postgresql://db/directmail",
        auth_tenant_id=TENANT_ID,
        auth_audience=first.settings["AUTH_AUDIENCE"],
    )
    assert settings.api_scope_prefix == uri

    # Found by its App ID URI even under another display name: nothing new for the API.
    renamed = azure.run("--prefix", "Marketing", *DEPLOY, "--app-id-uri", uri)

    assert renamed.returncode == 0, renamed.stderr
    assert [app["displayName"] for app in azure.state["apps"]] == [API, SWAGGER_UI, "Marketing Swagger UI (production)"]
    assert renamed.settings["AUTH_AUDIENCE"] == first.settings["AUTH_AUDIENCE"]
