# What tests/sbom.rs needs beyond the base artifacts:
# - the mcp-server-fetch wheel (a PyPI server with a real dependency tree);
# - @cyclonedx/cyclonedx-library and the optional schema-validation libraries
#   its JsonStrictValidator loads, pinned, in a cached directory exported as
#   MCPIN_CDX_LIB for testdata/cyclonedx/validate.cjs.
pypi_artifact mcp-server-fetch==2026.10.24 mcp_server_fetch-2026.10.24-py3-none-any.whl

cdx_lib_version=10.3.0
export MCPIN_CDX_LIB=$MCPIN_TEST_CACHE/cyclonedx-library-$cdx_lib_version
if [[ ! -f $MCPIN_CDX_LIB/.installed ]]; then
    mkdir -p "$MCPIN_CDX_LIB"
    # A private user config: the machine's .npmrc must not shape this install.
    printf '{"private":true}\n' >"$MCPIN_CDX_LIB/package.json"
    : >"$MCPIN_CDX_LIB/empty.npmrc"
    (cd "$MCPIN_CDX_LIB" && npm install --silent --no-audit --no-fund --ignore-scripts \
        --userconfig "$MCPIN_CDX_LIB/empty.npmrc" \
        "@cyclonedx/cyclonedx-library@$cdx_lib_version" ajv@8.20.0 ajv-formats@3.0.1 \
        ajv-formats-draft2019@1.6.1 >/dev/null)
    touch "$MCPIN_CDX_LIB/.installed"
fi
