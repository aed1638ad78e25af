# PyYAML in a cached virtualenv: an independent YAML reader for the goose allowlist that
# `mcpin policy compile` writes (tests/fleet.rs reads it as goose's serde_yaml would).
# Exports MCPIN_TEST_PYYAML_PYTHON.
pyyaml_venv=$MCPIN_TEST_CACHE/pyyaml-6.0.2
if ! "$pyyaml_venv/bin/python" -c 'import yaml' 2>/dev/null; then
    python3 -m venv "$pyyaml_venv"
    "$pyyaml_venv/bin/pip" install --quiet "PyYAML==6.0.2"
fi
export MCPIN_TEST_PYYAML_PYTHON=$pyyaml_venv/bin/python
