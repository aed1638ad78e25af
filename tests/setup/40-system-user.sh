# An unprivileged account for the system-mode test (tests/run.rs): mcpin runs as it while a
# root-owned /etc/mcpin/config.toml pins the policy, state, store and audit log. Needs root;
# without it the test fails and says so (it never passes by skipping).
export MCPIN_TEST_USER=mcpin-test
if [[ $(id -u) == 0 ]] && ! id -u "$MCPIN_TEST_USER" >/dev/null 2>&1; then
    useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$MCPIN_TEST_USER"
fi
