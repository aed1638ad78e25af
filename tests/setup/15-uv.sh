# uv (used to install and run Python MCP servers and to resolve Python locks),
# installed from PyPI into a cached virtualenv and put on PATH.
uv_version=0.13.9
uv_venv=$MCPIN_TEST_CACHE/uv-$uv_version
if [[ ! -x $uv_venv/bin/uv ]]; then
    python3 -m venv "$uv_venv"
    "$uv_venv/bin/pip" install --quiet "uv==$uv_version"
fi
export PATH=$uv_venv/bin:$PATH
export UV_CACHE_DIR=$MCPIN_TEST_CACHE/uv-cache
