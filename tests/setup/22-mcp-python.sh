# The official MCP Python SDK at a fixed version (it speaks both protocol eras: the 2025
# handshake and the stateless 2026-07-28 protocol), in a cached virtualenv: the real client the
# runtime-guard tests drive `mcpin run` with (tests/support/mcp_client.py).
# Exports MCPIN_MCP_PYTHON: that virtualenv's python. Needs uv from 15-uv.sh.
mcp_python_version=2.3.0
mcp_python_venv=$MCPIN_TEST_CACHE/mcp-python-$mcp_python_version
if [[ ! -f $mcp_python_venv/.complete ]]; then
    rm -rf "$mcp_python_venv"
    uv venv --quiet "$mcp_python_venv"
    uv pip install --quiet --only-binary :all: --python "$mcp_python_venv/bin/python" \
        "mcp==$mcp_python_version"
    touch "$mcp_python_venv/.complete"
fi
export MCPIN_MCP_PYTHON=$mcp_python_venv/bin/python
