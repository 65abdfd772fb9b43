# Multi-stage build of every binary in cmd/ (issuer, edgeproxy, wsharness, devstack).
#   docker build -t office-router .
#   docker run -p 8080:8080 --env-file issuer.env office-router                 # issuer
#   docker run -p 8788:8788 --env-file router.env --entrypoint edgeproxy office-router
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN ./scripts/build.sh /out

# Static binaries need no libc: distroless "static", non-root user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080 8788
ENTRYPOINT ["/usr/local/bin/issuer"]
