# Multi-stage build of the deployable binaries: issuer, edgeproxy and wsharness (for checks from
# inside the network). devstack and bench are developer tools and stay out.
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#                --build-arg REVISION="$(git rev-parse HEAD)" -t office-router .
#   docker run -p 8080:8080 --env-file issuer.env office-router                 # issuer
#   docker run -p 8788:8788 --env-file router.env --entrypoint edgeproxy \
#     --health-cmd "edgeproxy -healthcheck" office-router                       # edge proxy
# The HEALTHCHECK runs the binary's own -healthcheck mode (GET /healthz on 127.0.0.1:<-addr>),
# since a distroless image has no shell or curl; pass the same -addr to both when changing it.
FROM golang:1.26-bookworm AS build
ARG VERSION=devel
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN VERSION="${VERSION}" ./scripts/build.sh /out issuer edgeproxy wsharness

# Static binaries need no libc: distroless "static", non-root user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
ARG REVISION=unknown
LABEL org.opencontainers.image.title="office-router" \
      org.opencontainers.image.description="office-router issuer (token service) and Go edge proxy for per-organisation WebSockets" \
      org.opencontainers.image.source="https://github.com/qubital/office-router" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080 8788
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/issuer", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/issuer"]
