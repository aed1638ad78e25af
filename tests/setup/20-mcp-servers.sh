# Real MCP servers at fixed versions, installed once (install scripts disabled)
# and cached, for capturing and linting their tool descriptions.
# Exports MCPIN_MCP_SERVERS: an npm prefix whose node_modules holds
# @modelcontextprotocol/server-{filesystem,memory,everything}; and
# MCPIN_MCP_SERVER_TIME: the `mcp-server-time` console script of a cached
# uv virtualenv (PyPI mcp-server-time). Needs uv from 15-uv.sh.
mcp_npm_version=2026.8.31
mcp_time_version=2026.10.19
export MCPIN_MCP_SERVERS=$MCPIN_TEST_CACHE/mcp-servers-$mcp_npm_version
if [[ ! -f $MCPIN_MCP_SERVERS/.complete ]]; then
    rm -rf "$MCPIN_MCP_SERVERS"
    mkdir -p "$MCPIN_MCP_SERVERS"
    npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$MCPIN_MCP_SERVERS" \
        "@modelcontextprotocol/server-filesystem@$mcp_npm_version" \
        "@modelcontextprotocol/server-memory@$mcp_npm_version" \
        "@modelcontextprotocol/server-everything@$mcp_npm_version"
    touch "$MCPIN_MCP_SERVERS/.complete"
fi

mcp_time_venv=$MCPIN_TEST_CACHE/mcp-server-time-$mcp_time_version
if [[ ! -f $mcp_time_venv/.complete ]]; then
    rm -rf "$mcp_time_venv"
    uv venv --quiet "$mcp_time_venv"
    uv pip install --quiet --only-binary :all: --python "$mcp_time_venv/bin/python" \
        "mcp-server-time==$mcp_time_version"
    touch "$mcp_time_venv/.complete"
fi
export MCPIN_MCP_SERVER_TIME=$mcp_time_venv/bin/mcp-server-time
