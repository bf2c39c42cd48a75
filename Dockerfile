# syntax=docker/dockerfile:1
# claude-metrics-exporter: a sidecar image. `make docker` builds it where a Docker engine runs; `make image`
# builds the same runtime stage with podman from a release binary built here (BINARY_FROM=prebuilt), on a
# base assembled from Debian's packages where the distroless one cannot be pulled (RUNTIME_BASE).
ARG RUNTIME_BASE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY_FROM=build

# --- build -------------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
# Headers of libsystemd (loaded at run time, never linked) and zlib's static library (linked in).
RUN apt-get update && apt-get install -y --no-install-recommends libsystemd-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependency resolution in its own layer: it changes only when Package.swift does.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
ARG REVISION=unknown
RUN swift build -c release --static-swift-stdlib --product claude-metrics-exporter \
        -Xcc -DEXPORTER_REVISION="\"${REVISION}\"" \
    && cp .build/release/claude-metrics-exporter /claude-metrics-exporter \
    && strip /claude-metrics-exporter

# A binary built outside the image (stripped, beside this file in the build context): `make image`.
FROM scratch AS prebuilt
COPY claude-metrics-exporter /claude-metrics-exporter

FROM ${BINARY_FROM} AS binary

# --- runtime -----------------------------------------------------------------------------------------------
# distroless/cc has exactly what the binary links against (glibc: libc, libm; libstdc++; libgcc_s) and
# nothing else: no shell, no package manager. The Swift runtime is linked in statically.
FROM ${RUNTIME_BASE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="claude-metrics-exporter" \
      org.opencontainers.image.description="Prometheus exporter: is the Claude Code agent busy or idle" \
      org.opencontainers.image.source="https://github.com/claude-metrics-exporter/claude-metrics-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary /claude-metrics-exporter /usr/local/bin/claude-metrics-exporter
# uid/gid 1000: the agent container's user, so the exporter can read ~/.claude. Nothing is written anywhere,
# so a read-only root filesystem works.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/claude-metrics-exporter"]
