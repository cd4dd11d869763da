#!/usr/bin/env bash
# Install the servers the tests run against, when missing, from Debian's packages:
#   bash tests/servers/install.sh redis
# The tests call this themselves before starting a server (a test never skips because a
# server is absent); it fails, saying why, when it cannot install.
set -euo pipefail
sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
        sudo_if_needed apt-get update -q >/dev/null
        sudo_if_needed apt-get install -y -q --no-install-recommends "$@" >/dev/null
    }
}
for server in "$@"; do
    case "$server" in
        redis)
            if ! command -v redis-server >/dev/null; then
                echo "tests/servers/install.sh: installing Debian's redis-server" >&2
                apt_install redis-server
                # Debian's package starts a system server on 6379; the tests start their own.
                (command -v systemctl >/dev/null && sudo_if_needed systemctl disable --now redis-server) >/dev/null 2>&1 || true
            fi
            redis-server --version
            ;;
        *)
            echo "tests/servers/install.sh: unknown server $server (known: redis)" >&2
            exit 2
            ;;
    esac
done
