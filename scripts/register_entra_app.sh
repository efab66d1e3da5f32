#!/usr/bin/env bash
# Registers Directmail in Microsoft Entra ID, or brings an existing registration up to date:
#   - the API app: App ID URI, v2 access tokens, the app role Directmail.Read (for daemons, users and
#     groups) and the delegated scope Directmail.Read (for Swagger UI acting for a signed-in user);
#   - the Swagger UI client: a single-page application (authorization code + PKCE, no secret) whose
#     redirect URIs are https://<host>/ui/oauth2-redirect.html, pre-authorised for that scope;
#   - a service principal (enterprise application) for each, in the signed-in tenant;
# then prints the settings the service reads (KEY=value lines on stdout; progress goes to stderr).
#
# Idempotent: apps are found by display name (and App ID URI) before anything is created, a second run
# changes only what differs, and the role's and scope's ids are kept (new GUIDs only when missing).
# Needs the Azure CLI (`az login` first, as an account allowed to register apps) and jq.
set -euo pipefail
# A failure inside $(...) (a function that dies, a failed az) stops the script too.
shopt -s inherit_errexit

usage() {
    cat <<'EOF'
Usage: scripts/register_entra_app.sh --environment ENV --host HOST [--host HOST ...] [options]

Registers (or updates) Directmail's API app and its Swagger UI client in the signed-in Entra tenant,
then prints the settings for the Kubernetes ConfigMap/Secret on stdout.

Options:
  -e, --environment ENV   deployment name, part of the display names (e.g. staging, production)
  -H, --host HOST         a host serving Swagger UI at https://HOST/ui/ (repeatable, at least one
                          unless --localhost); HOST may carry a port and a path prefix
      --localhost         also allow http://localhost:8080/ui/oauth2-redirect.html (development)
  -p, --prefix NAME       display name prefix (default: Directmail); the apps are named
                          "NAME API (ENV)" and "NAME Swagger UI (ENV)"
      --app-id-uri URI    the API's App ID URI (default: api://<its client id>)
  -n, --dry-run           run only look-ups; print each changing command instead of running it
  -h, --help              this help

The Swagger UI redirect URIs are set to exactly the ones these options name: a URI registered by
hand is removed on the next run. Environment: AZ (the az command, default az).
EOF
}

die() {
    printf 'register_entra_app: %s\n' "$*" >&2
    exit 1
}

say() {
    printf '%s\n' "$*" >&2
}

PREFIX=Directmail
ENVIRONMENT=""
APP_ID_URI=""
HOSTS=()
LOCALHOST=false
DRY_RUN=false
AZ=${AZ:-az}
PERMISSION=Directmail.Read
GRAPH=https://graph.microsoft.com/v1.0

while (($#)); do
    case $1 in
        -e | --environment) ENVIRONMENT=${2:?--environment needs a value}; shift 2 ;;
        -H | --host) HOSTS+=("${2:?--host needs a value}"); shift 2 ;;
        --localhost) LOCALHOST=true; shift ;;
        -p | --prefix) PREFIX=${2:?--prefix needs a value}; shift 2 ;;
        --app-id-uri) APP_ID_URI=${2:?--app-id-uri needs a value}; shift 2 ;;
        -n | --dry-run) DRY_RUN=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[[ -n $ENVIRONMENT ]] || { usage >&2; die "--environment is required"; }
((${#HOSTS[@]})) || $LOCALHOST || { usage >&2; die "give at least one --host (or --localhost)"; }
# The names go into OData filters and JSON: keep them to plain characters.
for value in "$PREFIX" "$ENVIRONMENT"; do
    [[ $value =~ ^[A-Za-z0-9][A-Za-z0-9._\ -]*$ ]] || die "not a plain name: '$value'"
done
REDIRECT_URIS=()
for host in "${HOSTS[@]}"; do
    host=${host#https://}
    host=${host%/}
    [[ $host =~ ^[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$ ]] || die "not a host name: '$host'"
    REDIRECT_URIS+=("https://$host/ui/oauth2-redirect.html")
done
if $LOCALHOST; then
    REDIRECT_URIS+=("http://localhost:8080/ui/oauth2-redirect.html")
fi
if [[ -n $APP_ID_URI && ! $APP_ID_URI =~ ^[a-z][a-z0-9+.-]*://[^\ \']+$ ]]; then
    die "not an App ID URI: '$APP_ID_URI' such as api://<tenant id>/directmail"
fi
API_NAME="$PREFIX API ($ENVIRONMENT)"
SPA_NAME="$PREFIX Swagger UI ($ENVIRONMENT)"

command -v "$AZ" >/dev/null || die "the Azure CLI ('$AZ') is not installed: https://learn.microsoft.com/cli/azure/install-azure-cli"
command -v jq >/dev/null || die "jq is not installed (apt-get install jq)"
TENANT_ID=$("$AZ" account show --query tenantId -o tsv) ||
    die "az is not logged in: run 'az login' (with --tenant <tenant id> for another directory) and retry"
[[ -n $TENANT_ID ]] || die "'az account show' named no tenant: run 'az login' and retry"
say "Tenant: $TENANT_ID"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Runs a command that changes something in Entra, or with --dry-run prints it (shell-quoted) instead.
# A JSON body passed as @file is printed after it.
change() {
    if ! $DRY_RUN; then
        "$@"
        return
    fi
    local quoted shown=("$@")
    [[ $1 != retry ]] || shown=("${@:2}")
    printf -v quoted ' %q' "${shown[@]}"
    say "would run:${quoted}"
    local arg
    for arg in "$@"; do
        if [[ $arg == @* && -f ${arg#@} ]]; then
            say "  with ${arg#@}: $(jq -c . "${arg#@}")"
        fi
    done
}

# Runs "$@" up to 6 times, 10 s apart: Graph may not know an app for some seconds after creating it.
retry() {
    local attempt
    for attempt in 1 2 3 4 5; do
        "$@" && return
        say "  (not yet; retrying in 10 s, attempt $attempt of 5 retries)"
        sleep 10
    done
    "$@"
}

new_guid() {
    if command -v uuidgen >/dev/null; then
        uuidgen | tr '[:upper:]' '[:lower:]'
    elif [[ -r /proc/sys/kernel/random/uuid ]]; then
        cat /proc/sys/kernel/random/uuid
    else
        python3 -c 'import uuid; print(uuid.uuid4())'
    fi
}

# The one app registration named "$1" (its client id), or nothing; several are an error to sort out by hand.
app_by_name() {
    local ids
    ids=$("$AZ" ad app list --filter "displayName eq '$1'" --query "[].appId" -o tsv)
    [[ $ids != *$'\n'* ]] || die "several app registrations are named '$1': delete or rename all but one"
    printf '%s' "$ids"
}

# The app registration for client id "$1" (Graph's JSON); an empty app for a placeholder of a dry run.
app_json() {
    if [[ $1 == "<"* ]]; then
        jq -n --arg appId "$1" '{appId: $appId, id: "<object id of \($appId)>", identifierUris: [],
            appRoles: [], api: {oauth2PermissionScopes: [], preAuthorizedApplications: []},
            spa: {redirectUris: []}, requiredResourceAccess: []}'
    else
        # Graph may leave a collection out or null: the jq below reads each as a list.
        retry "$AZ" ad app show --id "$1" -o json | jq '.identifierUris //= [] | .appRoles //= [] | .api //= {}
            | .api.oauth2PermissionScopes //= [] | .api.preAuthorizedApplications //= [] | .spa //= {}
            | .spa.redirectUris //= [] | .requiredResourceAccess //= []'
    fi
}

# Finds or creates the app registration named "$1" (prints its client id).
ensure_app() {
    local name=$1 placeholder=$2 app_id=""
    if [[ $placeholder == "<api-client-id>" && -n $APP_ID_URI ]]; then
        app_id=$("$AZ" ad app list --identifier-uri "$APP_ID_URI" --query "[].appId" -o tsv)
        [[ $app_id != *$'\n'* ]] || die "several app registrations have the App ID URI $APP_ID_URI"
    fi
    [[ -n $app_id ]] || app_id=$(app_by_name "$name")
    if [[ -n $app_id ]]; then
        say "Found '$name': $app_id"
    elif $DRY_RUN; then
        change "$AZ" ad app create --display-name "$name" --sign-in-audience AzureADMyOrg --query appId -o tsv
        app_id=$placeholder
    else
        say "Creating '$name'"
        app_id=$("$AZ" ad app create --display-name "$name" --sign-in-audience AzureADMyOrg --query appId -o tsv)
        [[ -n $app_id ]] || die "'az ad app create' returned no client id for '$name'"
    fi
    printf '%s' "$app_id"
}

# Creates the service principal (enterprise application) of client id "$1" unless it exists.
ensure_service_principal() {
    if [[ $1 != "<"* && -n $("$AZ" ad sp list --filter "appId eq '$1'" --query "[].id" -o tsv) ]]; then
        return
    fi
    say "Creating the service principal of $1"
    change retry "$AZ" ad sp create --id "$1" --query id -o tsv >/dev/null
}

# PATCHes app registration object "$1" with the JSON file "$2" through Microsoft Graph (for what az has no flag).
patch_app() {
    change "$AZ" rest --method PATCH --uri "$GRAPH/applications/$1" \
        --headers Content-Type=application/json --body "@$2"
}

# ---- The API ---------------------------------------------------------------------------------------
API_APP_ID=$(ensure_app "$API_NAME" "<api-client-id>")
api=$(app_json "$API_APP_ID")
API_OBJECT_ID=$(jq -r .id <<<"$api")
[[ -n $APP_ID_URI ]] || APP_ID_URI="api://$API_APP_ID"

if jq -e --arg uri "$APP_ID_URI" '.identifierUris | index($uri) | not' <<<"$api" >/dev/null; then
    say "Setting the App ID URI $APP_ID_URI"
    mapfile -t uris < <(jq -r --arg uri "$APP_ID_URI" '[$uri] + .identifierUris | .[]' <<<"$api")
    change "$AZ" ad app update --id "$API_APP_ID" --identifier-uris "${uris[@]}"
fi

ROLE_ID=$(jq -r --arg value "$PERMISSION" '.appRoles[] | select(.value == $value) | .id' <<<"$api")
[[ -n $ROLE_ID ]] || ROLE_ID=$(new_guid)
jq --arg id "$ROLE_ID" --arg value "$PERMISSION" '
    {allowedMemberTypes: ["Application", "User"],
     description: "Read Directmail'"'"'s mailing lists and communities (applications, users and groups).",
     displayName: "Read Directmail data", id: $id, isEnabled: true, value: $value} as $role
    | .appRoles as $now
    | if any($now[]; .value == $value) then $now | map(if .value == $value then . + $role else . end)
      else $now + [$role] end
    | if . == $now then empty else . end' <<<"$api" >"$WORK/app-roles.json"
if [[ -s $WORK/app-roles.json ]]; then
    say "Setting the app role $PERMISSION ($ROLE_ID)"
    change "$AZ" ad app update --id "$API_APP_ID" --app-roles "@$WORK/app-roles.json"
fi

SCOPE_ID=$(jq -r --arg value "$PERMISSION" '.api.oauth2PermissionScopes[] | select(.value == $value) | .id' <<<"$api")
[[ -n $SCOPE_ID ]] || SCOPE_ID=$(new_guid)
jq --arg id "$SCOPE_ID" --arg value "$PERMISSION" '
    {adminConsentDescription: "Lets the app read Directmail'"'"'s mailing lists and communities as the signed-in user.",
     adminConsentDisplayName: "Read Directmail data", id: $id, isEnabled: true, type: "User",
     userConsentDescription: "Lets the app read Directmail'"'"'s mailing lists and communities as you.",
     userConsentDisplayName: "Read Directmail data", value: $value} as $scope
    | .api.oauth2PermissionScopes as $now
    | (if any($now[]; .value == $value) then $now | map(if .value == $value then . + $scope else . end)
       else $now + [$scope] end) as $scopes
    | if .api.requestedAccessTokenVersion == 2 and $scopes == $now then empty
      else {api: (.api + {requestedAccessTokenVersion: 2, oauth2PermissionScopes: $scopes})} end' \
    <<<"$api" >"$WORK/api.json"
# Each PATCH sends the whole `api` object as it should become, so that nothing depends on whether Graph
# merges or replaces a complex property, and $api follows what Entra now holds.
if [[ -s $WORK/api.json ]]; then
    say "Setting v2 access tokens and the delegated scope $PERMISSION ($SCOPE_ID)"
    patch_app "$API_OBJECT_ID" "$WORK/api.json"
    api=$(jq --slurpfile patch "$WORK/api.json" '. + $patch[0]' <<<"$api")
fi
ensure_service_principal "$API_APP_ID"

# ---- Swagger UI ------------------------------------------------------------------------------------
SPA_APP_ID=$(ensure_app "$SPA_NAME" "<swagger-ui-client-id>")
spa=$(app_json "$SPA_APP_ID")
SPA_OBJECT_ID=$(jq -r .id <<<"$spa")
jq --arg api "$API_APP_ID" --arg scope "$SCOPE_ID" '
    {resourceAppId: $api, resourceAccess: [{id: $scope, type: "Scope"}]} as $ours
    | ($ARGS.positional | unique) as $uris
    | .requiredResourceAccess as $now
    | (if any($now[]; .resourceAppId == $api) then $now | map(if .resourceAppId == $api then $ours else . end)
       else $now + [$ours] end) as $access
    | if (.spa.redirectUris | unique) == $uris and $access == $now then empty
      else {spa: {redirectUris: $uris}, requiredResourceAccess: $access} end' \
    --args "${REDIRECT_URIS[@]}" <<<"$spa" >"$WORK/spa.json"
if [[ -s $WORK/spa.json ]]; then
    say "Setting the single-page application redirect URIs: ${REDIRECT_URIS[*]}"
    patch_app "$SPA_OBJECT_ID" "$WORK/spa.json"
fi
ensure_service_principal "$SPA_APP_ID"

# Pre-authorised: users signing in to Swagger UI are not asked to consent to the scope.
jq --arg spa "$SPA_APP_ID" --arg scope "$SCOPE_ID" '
    {appId: $spa, delegatedPermissionIds: [$scope]} as $ours
    | .api.preAuthorizedApplications as $now
    | (if any($now[]; .appId == $spa) then $now | map(if .appId == $spa then $ours else . end)
       else $now + [$ours] end) as $wanted
    | if $wanted == $now then empty else {api: (.api + {preAuthorizedApplications: $wanted})} end' \
    <<<"$api" >"$WORK/pre-authorized.json"
if [[ -s $WORK/pre-authorized.json ]]; then
    say "Pre-authorising Swagger UI ($SPA_APP_ID) for $PERMISSION"
    patch_app "$API_OBJECT_ID" "$WORK/pre-authorized.json"
fi

$DRY_RUN && say "Dry run: nothing was changed; the <...> values are the ones a real run would create."
cat <<EOF
# Directmail in Entra ID ($ENVIRONMENT): put these in the ConfigMap (none of them is a secret).
# Tokens are v2 (AUTH_ALLOW_V1_TOKENS stays false); callers need the role or scope $PERMISSION.
AUTH_TENANT_ID=$TENANT_ID
AUTH_AUDIENCE=$API_APP_ID,$APP_ID_URI
SWAGGER_UI_CLIENT_ID=$SPA_APP_ID
EOF
