# The docker client for tests/oci.rs: `mcpin run -- docker run …` execs the real client,
# which fails at the daemon (there is none here; the tests point DOCKER_HOST at a closed
# loopback port). Debian ships the client in docker.io; its daemon must not be started by
# the package's maintainer scripts (policy-rc.d 101 = "action forbidden"), so only the
# client is used.
if ! command -v docker >/dev/null; then
    apt-get update -qq
    added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    if ((added_policy)); then rm -f /usr/sbin/policy-rc.d; fi
fi
docker --version >&2
