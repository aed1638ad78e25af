# Real MCP server packages at fixed versions, downloaded once and cached.
# Exports MCPIN_ARTIFACTS: a directory of the exact published files.
export MCPIN_ARTIFACTS=$MCPIN_TEST_CACHE/artifacts
mkdir -p "$MCPIN_ARTIFACTS"

npm_artifact() { # NAME@VERSION FILE
    [[ -s $MCPIN_ARTIFACTS/$2 ]] && return
    (cd "$MCPIN_ARTIFACTS" && npm pack --silent "$1" >/dev/null)
    [[ -s $MCPIN_ARTIFACTS/$2 ]] || { echo "npm pack $1 did not produce $2" >&2; return 1; }
}
pypi_artifact() { # NAME==VERSION FILE
    [[ -s $MCPIN_ARTIFACTS/$2 ]] && return
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$MCPIN_ARTIFACTS" "$1"
    [[ -s $MCPIN_ARTIFACTS/$2 ]] || { echo "pip download $1 did not produce $2" >&2; return 1; }
}

npm_artifact @modelcontextprotocol/server-filesystem@2026.8.31 modelcontextprotocol-server-filesystem-2026.8.31.tgz
pypi_artifact mcp-server-time==2026.10.19 mcp_server_time-2026.10.19-py3-none-any.whl
