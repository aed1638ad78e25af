# Real registries on loopback for tests/registry.rs: Verdaccio 5 (npm),
# pypiserver (PyPI), Debian's docker-registry (OCI distribution) and an MCP
# registry fixture (static v0 API files). Installs are cached under
# $MCPIN_TEST_CACHE; state and logs live in $MCPIN_TEST_RUN.
# Exports MCPIN_TEST_NPM_REGISTRY, MCPIN_TEST_NPM_TOKEN, MCPIN_TEST_VERDACCIO_LOG,
# MCPIN_TEST_PYPI_INDEX, MCPIN_TEST_PYPISERVER (binary), MCPIN_TEST_PYPI_DIR,
# MCPIN_TEST_PYPI_AUTH_INDEX with MCPIN_TEST_PYPI_USER / MCPIN_TEST_PYPI_PASSWORD,
# MCPIN_TEST_OCI_REGISTRY (host:port), MCPIN_TEST_OCI_TOKEN_REGISTRY (bearer-token auth)
# with MCPIN_TEST_OCI_TOKEN_LOG, and MCPIN_TEST_MCP_REGISTRY.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # URL NAME
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$2 did not come up at $1" >&2
    return 1
}

# Extra real packages: server-memory is published as a package that needs a login to read;
# server-everything is fetched only by the concurrency test, which counts its downloads.
npm_artifact @modelcontextprotocol/server-memory@2026.8.31 modelcontextprotocol-server-memory-2026.8.31.tgz
npm_artifact @modelcontextprotocol/server-everything@2026.8.31 modelcontextprotocol-server-everything-2026.8.31.tgz

# --- Verdaccio 5 (Verdaccio 6 needs Node 22). One of its dependencies asks for the dist-tag
# `node-fetch@cjs`, which the npm registry reachable here does not serve (it serves only
# `latest`), hence the override pinning node-fetch to 2.7.0.
verdaccio_dir=$MCPIN_TEST_CACHE/verdaccio-5.33.0
if [[ ! -x $verdaccio_dir/node_modules/.bin/verdaccio ]]; then
    mkdir -p "$verdaccio_dir"
    cat >"$verdaccio_dir/package.json" <<'EOF'
{ "private": true, "dependencies": { "verdaccio": "5.33.0" }, "overrides": { "node-fetch": "2.7.0" } }
EOF
    (cd "$verdaccio_dir" && npm install --silent --no-audit --no-fund >/dev/null)
fi
verdaccio_run=$MCPIN_TEST_RUN/verdaccio
mkdir -p "$verdaccio_run/storage"
verdaccio_port=$(free_port)
cat >"$verdaccio_run/config.yaml" <<EOF
storage: $verdaccio_run/storage
auth:
  htpasswd:
    file: $verdaccio_run/htpasswd
uplinks: {}
packages:
  '@modelcontextprotocol/server-memory':
    access: \$authenticated
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
listen: 127.0.0.1:$verdaccio_port
log: { type: file, path: $verdaccio_run/verdaccio.log, level: http }
EOF
"$verdaccio_dir/node_modules/.bin/verdaccio" --config "$verdaccio_run/config.yaml" \
    >"$verdaccio_run/stdout.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_NPM_REGISTRY=http://127.0.0.1:$verdaccio_port/
export MCPIN_TEST_VERDACCIO_LOG=$verdaccio_run/verdaccio.log
wait_http "${MCPIN_TEST_NPM_REGISTRY}-/ping" Verdaccio
MCPIN_TEST_NPM_TOKEN=$(curl -fsS -X PUT -H 'content-type: application/json' \
    -d '{"name":"mcpin-test","password":"mcpin-test-password"}' \
    "${MCPIN_TEST_NPM_REGISTRY}-/user/org.couchdb.user:mcpin-test" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export MCPIN_TEST_NPM_TOKEN
printf '//127.0.0.1:%s/:_authToken=%s\n' "$verdaccio_port" "$MCPIN_TEST_NPM_TOKEN" >"$verdaccio_run/npmrc"
for tgz in modelcontextprotocol-server-{filesystem,memory,everything}-2026.8.31.tgz; do
    npm publish "$MCPIN_ARTIFACTS/$tgz" --registry "$MCPIN_TEST_NPM_REGISTRY" \
        --userconfig "$verdaccio_run/npmrc" --tag latest --silent >/dev/null
done

# --- pypiserver, serving the real mcp-server-time wheel
pypiserver_venv=$MCPIN_TEST_CACHE/pypiserver-2.4.2
# The same venv runs the OCI token server (tests/support/oci_token_server.py), hence cryptography.
if ! "$pypiserver_venv/bin/python" -c 'import pypiserver, passlib, cryptography' 2>/dev/null; then
    python3 -m venv "$pypiserver_venv"
    "$pypiserver_venv/bin/pip" install --quiet "pypiserver==2.4.2" "passlib==1.7.4" "cryptography==46.0.3"
fi
export MCPIN_TEST_PYPISERVER=$pypiserver_venv/bin/pypi-server
export MCPIN_TEST_PYPI_DIR=$MCPIN_TEST_RUN/pypi-packages
mkdir -p "$MCPIN_TEST_PYPI_DIR"
cp "$MCPIN_ARTIFACTS/mcp_server_time-2026.10.19-py3-none-any.whl" "$MCPIN_TEST_PYPI_DIR/"
pypi_port=$(free_port)
"$MCPIN_TEST_PYPISERVER" run -i 127.0.0.1 -p "$pypi_port" -a . -P . "$MCPIN_TEST_PYPI_DIR" \
    >"$MCPIN_TEST_RUN/pypiserver.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_PYPI_INDEX=http://127.0.0.1:$pypi_port/simple/
wait_http "$MCPIN_TEST_PYPI_INDEX" pypiserver
# A second pypiserver that wants basic auth for everything (index URL with user:password@).
export MCPIN_TEST_PYPI_USER=mcpin-test MCPIN_TEST_PYPI_PASSWORD=mcpin-pypi-secret
"$pypiserver_venv/bin/python" -c 'import sys; from passlib.apache import HtpasswdFile
h = HtpasswdFile(sys.argv[1], new=True); h.set_password(sys.argv[2], sys.argv[3]); h.save()' \
    "$MCPIN_TEST_RUN/pypi-htpasswd" "$MCPIN_TEST_PYPI_USER" "$MCPIN_TEST_PYPI_PASSWORD"
pypi_auth_port=$(free_port)
"$MCPIN_TEST_PYPISERVER" run -i 127.0.0.1 -p "$pypi_auth_port" -a download,list,update \
    -P "$MCPIN_TEST_RUN/pypi-htpasswd" "$MCPIN_TEST_PYPI_DIR" >"$MCPIN_TEST_RUN/pypiserver-auth.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_PYPI_AUTH_INDEX=http://127.0.0.1:$pypi_auth_port/simple/
wait_http "http://$MCPIN_TEST_PYPI_USER:$MCPIN_TEST_PYPI_PASSWORD@127.0.0.1:$pypi_auth_port/simple/" "pypiserver (auth)"

# --- Debian's docker-registry (distribution 2.8) with filesystem storage
if ! command -v docker-registry >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
oci_port=$(free_port)
mkdir -p "$MCPIN_TEST_RUN/oci/storage"
cat >"$MCPIN_TEST_RUN/oci/config.yml" <<EOF
version: 0.1
log: { level: info }
storage:
  filesystem: { rootdirectory: $MCPIN_TEST_RUN/oci/storage }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$oci_port
EOF
docker-registry serve "$MCPIN_TEST_RUN/oci/config.yml" >"$MCPIN_TEST_RUN/oci/registry.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_OCI_REGISTRY=127.0.0.1:$oci_port
wait_http "http://$MCPIN_TEST_OCI_REGISTRY/v2/" docker-registry

# A second docker-registry behind bearer tokens from tests/support/oci_token_server.py.
oci_auth=$MCPIN_TEST_RUN/oci-token
mkdir -p "$oci_auth/storage"
"$pypiserver_venv/bin/python" tests/support/oci_token_server.py --init "$oci_auth"
"$pypiserver_venv/bin/python" tests/support/oci_token_server.py --dir "$oci_auth" --port-file "$oci_auth/port" \
    --log "$oci_auth/tokens.log" --issuer mcpin-test-issuer --service mcpin-test-registry \
    >"$oci_auth/token-server.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
for _ in $(seq 1 100); do [[ -s $oci_auth/port ]] && break; sleep 0.1; done
oci_auth_port=$(free_port)
cat >"$oci_auth/config.yml" <<EOF
version: 0.1
log: { level: info }
storage:
  filesystem: { rootdirectory: $oci_auth/storage }
http:
  addr: 127.0.0.1:$oci_auth_port
auth:
  token:
    realm: http://127.0.0.1:$(cat "$oci_auth/port")/token
    service: mcpin-test-registry
    issuer: mcpin-test-issuer
    rootcertbundle: $oci_auth/root.pem
EOF
docker-registry serve "$oci_auth/config.yml" >"$oci_auth/registry.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_OCI_TOKEN_REGISTRY=127.0.0.1:$oci_auth_port
export MCPIN_TEST_OCI_TOKEN_LOG=$oci_auth/tokens.log
for _ in $(seq 1 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$MCPIN_TEST_OCI_TOKEN_REGISTRY/v2/") == 401 ]] && break
    sleep 0.1
done

# --- MCP registry fixture: the v0 API as static files, pointing at the registries above
mcp_root=$MCPIN_TEST_RUN/mcp-registry
server_json() { # NAME VERSION PACKAGE-JSON
    local dir=$mcp_root/v0/servers/$1/versions
    mkdir -p "$dir"
    cat >"$dir/$2" <<EOF
{ "server": { "\$schema": "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json",
    "name": "$1", "description": "fixture", "version": "$2", "packages": [ $3 ] },
  "_meta": { "io.modelcontextprotocol.registry/official": { "status": "active", "isLatest": true } } }
EOF
}
server_json io.github.modelcontextprotocol/server-filesystem 2026.8.31 \
    "{ \"registryType\": \"npm\", \"registryBaseUrl\": \"${MCPIN_TEST_NPM_REGISTRY%/}\", \"identifier\": \"@modelcontextprotocol/server-filesystem\", \"version\": \"2026.8.31\", \"transport\": { \"type\": \"stdio\" } }"
server_json io.github.modelcontextprotocol/mcp-server-time 2026.10.19 \
    "{ \"registryType\": \"pypi\", \"registryBaseUrl\": \"${MCPIN_TEST_PYPI_INDEX%/simple/}\", \"identifier\": \"mcp-server-time\", \"version\": \"2026.10.19\", \"transport\": { \"type\": \"stdio\" } }"
mcp_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$mcp_root" "$mcp_port" \
    >"$MCPIN_TEST_RUN/mcp-registry.log" 2>&1 &
echo $! >>"$MCPIN_TEST_RUN/pids"
export MCPIN_TEST_MCP_REGISTRY=http://127.0.0.1:$mcp_port
wait_http "$MCPIN_TEST_MCP_REGISTRY/v0/servers/io.github.modelcontextprotocol/server-filesystem/versions/2026.8.31" "MCP registry fixture"
