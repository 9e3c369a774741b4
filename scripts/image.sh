#!/usr/bin/env bash
# make image: build the Dockerfile with the OCI builder at hand and smoke-test the result:
#   nexus --version; the C++ server's --help, and its --version naming the librdkafka of the
#   confluent-kafka wheel (the tests' library); the sink (nexus run) against the local stack,
#   until /readyz answers 200 (the broker reached, partitions assigned) and /healthz too.
#
#   scripts/image.sh [TAG]     TAG defaults to keystone-nexus:<version>
#
# The builder: BUILDER=docker|podman|buildah, else the first that works here (docker with a
# running engine, podman, buildah; Debian: apt-get install podman or buildah). BASE_IMAGE is
# passed on as the build argument of that name. NEXUS_IMAGE_SINK_SMOKE=0 skips the sink part
# (it needs .venv for the local stack). Builders that cannot create namespaces or cgroups in a
# sandbox build with BUILDAH_ISOLATION=chroot (podman and buildah honour it).
# The dashboard must be built first (make dashboard; `make image` does it).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)"
TAG="${1:-keystone-nexus:$VERSION}"
STATE=.state/image
NEXUS="${NEXUS:-.venv/bin/nexus}"  # for the local stack

[[ -f dashboard/dist/index.html ]] || {
  echo "image: dashboard/dist is not built; run make dashboard (make image does)" >&2
  exit 1
}

works() {
  case $1 in
    docker) command -v docker >/dev/null && docker info >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null ;;
  esac
}
BUILDER="${BUILDER:-}"
if [[ -z $BUILDER ]]; then
  for candidate in docker podman buildah; do
    if works "$candidate"; then
      BUILDER=$candidate
      break
    fi
  done
fi
if [[ -z $BUILDER ]] || ! works "$BUILDER"; then
  echo "image: no OCI builder here (a running Docker engine, podman or buildah);" \
    "as root: apt-get install -y podman" >&2
  exit 1
fi

build_args=()
[[ -z ${BASE_IMAGE:-} ]] || build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
echo "image: building $TAG with $BUILDER" >&2
# The docker format: the OCI format has no HEALTHCHECK (podman and buildah would drop it).
case $BUILDER in
  buildah) buildah bud --layers --format docker "${build_args[@]}" -t "$TAG" -f Dockerfile . ;;
  podman) podman build --format docker "${build_args[@]}" -t "$TAG" -f Dockerfile . ;;
  *) docker build "${build_args[@]}" -t "$TAG" -f Dockerfile . ;;
esac

# The sink's container, removed on exit with the local stack.
CONTAINERS=()
cleanup() {
  for name in "${CONTAINERS[@]}"; do
    case $BUILDER in
      buildah) buildah rm "$name" >/dev/null 2>&1 || true ;;
      *) "$BUILDER" rm -f "$name" >/dev/null 2>&1 || true ;;
    esac
  done
  [[ ! -d $STATE/stack ]] || "$NEXUS" dev down --state-dir "$STATE/stack" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# in_image COMMAND...: run COMMAND in a new container of the image, on the host's network (the
# local stack listens on loopback), and remove the container.
in_image() {
  case $BUILDER in
    buildah)
      local ctr status=0
      ctr="$(buildah from --quiet "$TAG")"
      buildah run --network host "$ctr" -- "$@" || status=$?
      buildah rm "$ctr" >/dev/null
      return "$status"
      ;;
    *) "$BUILDER" run --rm --network host --entrypoint "$1" "$TAG" "${@:2}" ;;
  esac
}

mkdir -p "$STATE"
echo "image: nexus --version" >&2
in_image nexus --version
echo "image: olist_ingestion_enterprise --help" >&2
in_image olist_ingestion_enterprise --help >"$STATE/server-help.txt" 2>&1 || {
  cat "$STATE/server-help.txt" >&2
  exit 1
}
grep -q -- '--brokers' "$STATE/server-help.txt" || {
  echo "image: the C++ server's --help does not list --brokers:" >&2
  cat "$STATE/server-help.txt" >&2
  exit 1
}
echo "image: the C++ server starts and prints its help ($(wc -l <"$STATE/server-help.txt") lines)" >&2
# The server loads the librdkafka of the image's confluent-kafka wheel, the one .venv's tests use.
server="$(in_image olist_ingestion_enterprise --version)"
wheel="$(in_image python -c 'import confluent_kafka; print(confluent_kafka.libversion()[0])')"
echo "image: $server; the confluent-kafka wheel's librdkafka $wheel" >&2
[[ $server == *"librdkafka $wheel,"* ]] || {
  echo "image: the C++ server does not load the wheel's librdkafka $wheel" >&2
  exit 1
}
tests_python="$(dirname "$NEXUS")/python"
if [[ -x $tests_python ]]; then
  tested="$("$tests_python" -c 'import confluent_kafka; print(confluent_kafka.libversion()[0])')"
  [[ $tested == "$wheel" ]] || {
    echo "image: librdkafka $wheel in the image, $tested in the tests' environment ($tests_python)" >&2
    exit 1
  }
fi

if [[ ${NEXUS_IMAGE_SINK_SMOKE:-1} == 0 ]]; then
  echo "image: $TAG built; the sink smoke test skipped (NEXUS_IMAGE_SINK_SMOKE=0)" >&2
  exit 0
fi
[[ -x $NEXUS ]] || {
  echo "image: the sink smoke test needs .venv for the local stack (make venv)" >&2
  exit 1
}
"$NEXUS" dev down --state-dir "$STATE/stack" >/dev/null 2>&1 || true
"$NEXUS" dev up --state-dir "$STATE/stack" --no-postgres >"$STATE/stack.log"
"$NEXUS" dev env --state-dir "$STATE/stack" >"$STATE/stack.env"
(set -a && . "$STATE/stack.env" && "$NEXUS" schemas sync >"$STATE/schemas.log")
port="$("$(dirname "$NEXUS")/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The stack's settings and the health server on a free port; the image's defaults for the rest.
{ cat "$STATE/stack.env"; echo "NEXUS_HEALTH__PORT=$port"; } >"$STATE/sink.env"
chmod 0644 "$STATE/sink.env"
SINK='set -a; . /tmp/sink.env; set +a; exec nexus run'
echo "image: the sink (nexus run) against the local stack, its health server on port $port" >&2
sink_pid=""
case $BUILDER in
  buildah)
    ctr="$(buildah from --quiet "$TAG")"
    CONTAINERS+=("$ctr")
    buildah copy --quiet "$ctr" "$STATE/sink.env" /tmp/sink.env >/dev/null
    # Its own process group, so that it can be stopped as a whole.
    setsid buildah run --network host "$ctr" -- sh -c "$SINK" >"$STATE/sink.log" 2>&1 &
    sink_pid=$!
    ;;
  *)
    name="keystone-nexus-smoke-$$"
    CONTAINERS+=("$name")
    "$BUILDER" run -d --name "$name" --network host -v "$PWD/$STATE/sink.env:/tmp/sink.env:ro" \
      --entrypoint sh "$TAG" -c "$SINK" >/dev/null
    ;;
esac
# Ready: the broker reached, the partitions assigned, the lake and the registry set up.
healthy=0
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >"$STATE/readyz.json" 2>/dev/null &&
    curl -fsS "http://127.0.0.1:$port/healthz" >"$STATE/healthz.json" 2>/dev/null; then
    healthy=1
    break
  fi
  if [[ -n $sink_pid ]] && ! kill -0 "$sink_pid" 2>/dev/null; then break; fi
  sleep 1
done
if [[ -n $sink_pid ]]; then
  kill -TERM -- "-$sink_pid" 2>/dev/null || true
  wait "$sink_pid" 2>/dev/null || true
else
  "$BUILDER" logs "$name" >"$STATE/sink.log" 2>&1 || true
fi
if ((!healthy)); then
  echo "image: the sink in the image did not become ready; its log ($STATE/sink.log):" >&2
  tail -n 30 "$STATE/sink.log" >&2
  exit 1
fi
echo "image: the sink in the image is ready: $(cat "$STATE/readyz.json"); /healthz $(cat "$STATE/healthz.json")" >&2
echo "image: $TAG built and smoke-tested with $BUILDER" >&2
