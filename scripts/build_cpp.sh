#!/usr/bin/env bash
# Build the C++17 gRPC ingestion server to ingestion_cpp/build/olist_ingestion_enterprise.
#
#   scripts/build_cpp.sh          install missing Debian packages (as root), configure, build
#   scripts/build_cpp.sh --test   the same, then run the unit tests (ctest)
#
# Not root: names the missing packages and stops. The librdkafka shared library is taken
# from the confluent-kafka wheel in .venv (see ingestion_cpp/README.md for why).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --test) RUN_TESTS=1 ;;
    -h | --help)
      sed -n '2,8p' "$0"
      exit 0
      ;;
    *)
      echo "build_cpp: unknown argument: $arg (expected --test)" >&2
      exit 2
      ;;
  esac
done

PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libgtest-dev librdkafka-dev libjemalloc-dev libssl-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "build_cpp: missing Debian packages: ${missing[*]}" >&2
    echo "build_cpp: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "build_cpp: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The newer librdkafka (the Debian one cannot talk to the local broker): the copy inside
# the confluent-kafka wheel, unless RDKAFKA_LIBRARY names another one.
RDKAFKA_LIBRARY="${RDKAFKA_LIBRARY:-}"
if [[ -z "$RDKAFKA_LIBRARY" ]]; then
  RDKAFKA_LIBRARY="$(find .venv/lib -path '*confluent_kafka.libs/librdkafka*.so*' -print -quit 2>/dev/null || true)"
fi
if [[ -z "$RDKAFKA_LIBRARY" || ! -f "$RDKAFKA_LIBRARY" ]]; then
  echo "build_cpp: no librdkafka from the confluent-kafka wheel under .venv; run 'make venv'" >&2
  echo "build_cpp: or set RDKAFKA_LIBRARY=/path/to/librdkafka.so.1 (>= 2.2)" >&2
  exit 1
fi

JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
cmake -S ingestion_cpp -B ingestion_cpp/build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
  -DRDKAFKA_LIBRARY="$(realpath "$RDKAFKA_LIBRARY")" >/dev/null
cmake --build ingestion_cpp/build -j "$JOBS"
echo "build_cpp: built ingestion_cpp/build/olist_ingestion_enterprise" >&2

if ((RUN_TESTS)); then
  ctest --test-dir ingestion_cpp/build --output-on-failure
fi
