# Keystone Nexus: the bronze sink (Python) and the C++ ingestion server, in one image.
# Multi-stage on Ubuntu 24.04; runs as a non-root user; HEALTHCHECK against /healthz.
# `docker run IMAGE` runs the sink (`nexus run`); the ingestion server is
# /opt/keystone-nexus/ingestion/olist_ingestion_enterprise (on the PATH).
# .dockerignore keeps local builds and environments (ingestion_cpp/build, .venv) out.

FROM ubuntu:24.04 AS python-build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN python3 -m venv /opt/keystone-nexus/.venv \
 && /opt/keystone-nexus/.venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/keystone-nexus/.venv/bin/pip install --no-cache-dir .

FROM ubuntu:24.04 AS cpp-build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config binutils \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      librdkafka-dev nlohmann-json3-dev libgtest-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY protos ./protos
COPY ingestion_cpp ./ingestion_cpp
# Ubuntu 24.04's own librdkafka (2.3) speaks to MSK and the local broker alike; the build
# copies it next to the binary, which loads it from there ($ORIGIN), as on a host install.
RUN rdkafka="$(find /usr/lib -name 'librdkafka.so.1' -print -quit)" \
 && cmake -S ingestion_cpp -B /build -DCMAKE_BUILD_TYPE=Release -DRDKAFKA_LIBRARY="$rdkafka" \
 && cmake --build /build -j2 --target olist_ingestion_enterprise \
 && install -D -m 0755 /build/olist_ingestion_enterprise /opt/keystone-nexus/ingestion/olist_ingestion_enterprise \
 && install -m 0644 /build/librdkafka*.so* /opt/keystone-nexus/ingestion/

FROM ubuntu:24.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates curl \
      libgrpc++1.51t64 librdkafka1 libprotobuf32t64 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 keystone-nexus \
 && useradd --system --uid 10001 --gid 10001 --home /var/lib/keystone-nexus --create-home \
      --shell /usr/sbin/nologin keystone-nexus
COPY --from=python-build /opt/keystone-nexus/.venv /opt/keystone-nexus/.venv
COPY --from=cpp-build /opt/keystone-nexus/ingestion /opt/keystone-nexus/ingestion
ENV PATH=/opt/keystone-nexus/.venv/bin:/opt/keystone-nexus/ingestion:$PATH \
    NEXUS_HEALTH__HOST=0.0.0.0 \
    NEXUS_HEALTH__PORT=8787 \
    NEXUS_REGISTRY__LOCAL_PATH=/var/lib/keystone-nexus/registry
# Numeric, so an orchestrator can tell it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
WORKDIR /var/lib/keystone-nexus
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8787/healthz || exit 1
ENTRYPOINT ["nexus"]
CMD ["run"]
