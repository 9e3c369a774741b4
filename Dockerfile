# Keystone Nexus: the bronze sink (Python) and, when it builds, the C++ ingestion server.
# Multi-stage on Ubuntu 24.04; runs as a non-root user; HEALTHCHECK against /healthz.

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
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      librdkafka-dev nlohmann-json3-dev libgtest-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY protos ./protos
COPY ingestion_cpp ./ingestion_cpp
# Ubuntu 24.04 ships librdkafka 2.3, which speaks to MSK and the local broker alike.
RUN if [ -f ingestion_cpp/CMakeLists.txt ]; then \
      cmake -S ingestion_cpp -B ingestion_cpp/build -DCMAKE_BUILD_TYPE=Release \
      && cmake --build ingestion_cpp/build -j2 \
      && install -D ingestion_cpp/build/olist_ingestion_enterprise /opt/keystone-nexus/bin/olist_ingestion_enterprise; \
    else mkdir -p /opt/keystone-nexus/bin; fi

FROM ubuntu:24.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates curl \
      libgrpc++1.51t64 librdkafka1 libprotobuf32t64 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/keystone-nexus --create-home --shell /usr/sbin/nologin keystone-nexus
COPY --from=python-build /opt/keystone-nexus/.venv /opt/keystone-nexus/.venv
COPY --from=cpp-build /opt/keystone-nexus/bin /opt/keystone-nexus/bin
ENV PATH=/opt/keystone-nexus/.venv/bin:/opt/keystone-nexus/bin:$PATH \
    NEXUS_HEALTH__HOST=0.0.0.0 \
    NEXUS_HEALTH__PORT=8787 \
    NEXUS_REGISTRY__LOCAL_PATH=/var/lib/keystone-nexus/registry
USER keystone-nexus
WORKDIR /var/lib/keystone-nexus
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8787/healthz || exit 1
ENTRYPOINT ["nexus"]
CMD ["run"]
