#!/usr/bin/env bash
# Install the servers the tests run against, when missing:
#   bash tests/servers/install.sh redis kafka
# redis: Debian's redis-server. kafka: the Kafka-protocol broker tansu, built from crates.io
# (about 22 minutes on two cores, once; kept in $EDDY_SERVERS, default ~/.cache/eddy/servers),
# and the system packages rdkafka's bundled librdkafka build needs (cmake, libcurl).
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
        kafka)
            command -v cmake >/dev/null && [ -e /usr/include/curl/curl.h ] || {
                echo "tests/servers/install.sh: installing cmake and libcurl4-openssl-dev for librdkafka" >&2
                apt_install cmake libcurl4-openssl-dev
            }
            root="${EDDY_SERVERS:-$HOME/.cache/eddy/servers}"
            if [ ! -x "$root/bin/tansu" ]; then
                echo "tests/servers/install.sh: building the tansu broker into $root (about 22 minutes, once)" >&2
                mkdir -p "$root"
                # Its own target folder, so the build is not mixed into eddy's; removed after.
                CARGO_TARGET_DIR="$root/build" cargo install --quiet --locked tansu@0.6.0 \
                    --features dynostore --root "$root"
                rm -rf "$root/build"
            fi
            "$root/bin/tansu" --version
            ;;
        *)
            echo "tests/servers/install.sh: unknown server $server (known: redis, kafka)" >&2
            exit 2
            ;;
    esac
done
