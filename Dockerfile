# Keystone Nexus: the bronze sink (Python), the C++ ingestion server and the built dashboard,
# in one image, built as the tests build them. `make image` builds it and smoke-tests it
# (scripts/image.sh). Multi-stage on Ubuntu 24.04; runs as a non-root user; HEALTHCHECK
# against /healthz. `docker run IMAGE` runs the sink (`nexus run`); the ingestion server is
# /opt/keystone-nexus/ingestion/olist_ingestion_enterprise (on the PATH); `nexus dashboard`
# serves /opt/keystone-nexus/dashboard/dist.
# .dockerignore keeps local builds and environments (ingestion_cpp/build, .venv) out.

# Ubuntu 24.04 (noble-20250404), by digest: every build starts from the same bytes. BASE_IMAGE
# overrides it (the same release from another registry or mirror).
ARG BASE_IMAGE=docker.io/library/ubuntu:noble-20250404@sha256:1e622c5f073b4f6bfad6632f2616c7f59ef256e96fe78bf6a595d1dc4376ac02

# --- Python: the packages from requirements/service.lock, every file checked against its
# sha256 (the versions .venv runs the tests with: the lock is resolved within dev.lock), then
# the project without dependencies.
FROM ${BASE_IMAGE} AS python-build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/service.lock ./requirements/service.lock
RUN python3 -m venv /opt/keystone-nexus/.venv \
 && /opt/keystone-nexus/.venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      --require-hashes -r requirements/service.lock
COPY pyproject.toml README.md ./
COPY service ./service
# The librdkafka of the confluent-kafka wheel, for the C++ server: the library the tests
# build it with (scripts/build_cpp.sh takes it from .venv the same way).
RUN /opt/keystone-nexus/.venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
 && rdkafka="$(find /opt/keystone-nexus/.venv/lib -path '*confluent_kafka.libs/librdkafka*.so*' -print -quit)" \
 && test -n "$rdkafka" \
 && install -D -m 0644 "$rdkafka" "/opt/keystone-nexus/rdkafka/$(basename "$rdkafka")"

# --- C++: the server as scripts/build_cpp.sh builds it: Debian's headers, the wheel's
# librdkafka (CMake copies it next to the binary, which loads it from there, $ORIGIN), jemalloc.
FROM ${BASE_IMAGE} AS cpp-build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config binutils \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      librdkafka-dev nlohmann-json3-dev libjemalloc-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY protos ./protos
COPY ingestion_cpp ./ingestion_cpp
COPY --from=python-build /opt/keystone-nexus/rdkafka /opt/keystone-nexus/rdkafka
# CMake links jemalloc only when it finds it; the readelf checks make a build without it, or
# with another librdkafka, fail here rather than ship.
RUN rdkafka="$(find /opt/keystone-nexus/rdkafka -name 'librdkafka*.so*' -print -quit)" \
 && cmake -S ingestion_cpp -B /build -DCMAKE_BUILD_TYPE=Release -DRDKAFKA_LIBRARY="$rdkafka" \
      -DNEXUS_USE_JEMALLOC=ON \
 && cmake --build /build -j2 --target olist_ingestion_enterprise \
 && readelf -d /build/olist_ingestion_enterprise | grep -q 'NEEDED.*\[libjemalloc' \
 && readelf -d /build/olist_ingestion_enterprise | grep -q "NEEDED.*\[$(basename "$rdkafka")\]" \
 && install -D -m 0755 /build/olist_ingestion_enterprise /opt/keystone-nexus/ingestion/olist_ingestion_enterprise \
 && install -m 0644 /build/librdkafka*.so* /opt/keystone-nexus/ingestion/

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates curl \
      libgrpc++1.51t64 libprotobuf32t64 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 keystone-nexus \
 && useradd --system --uid 10001 --gid 10001 --home /var/lib/keystone-nexus --create-home \
      --shell /usr/sbin/nologin keystone-nexus
COPY --from=python-build /opt/keystone-nexus/.venv /opt/keystone-nexus/.venv
COPY --from=cpp-build /opt/keystone-nexus/ingestion /opt/keystone-nexus/ingestion
# The page `make dashboard` builds (pnpm from dashboard/pnpm-lock.yaml); `make image` builds it first.
COPY dashboard/dist /opt/keystone-nexus/dashboard/dist
ENV PATH=/opt/keystone-nexus/.venv/bin:/opt/keystone-nexus/ingestion:$PATH \
    NEXUS_HEALTH__HOST=0.0.0.0 \
    NEXUS_HEALTH__PORT=8787 \
    NEXUS_REGISTRY__LOCAL_PATH=/var/lib/keystone-nexus/registry \
    NEXUS_DASHBOARD__STATIC_DIR=/opt/keystone-nexus/dashboard/dist
# Numeric, so an orchestrator can tell it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
WORKDIR /var/lib/keystone-nexus
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8787/healthz || exit 1
ENTRYPOINT ["nexus"]
CMD ["run"]
