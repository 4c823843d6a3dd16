# Build: a static binary from the Go module proxy and this source, nothing
# else. The build context has no .git (.dockerignore), so the version and
# revision come in as build arguments:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t flashwire .
FROM golang:1.26 AS build
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
    -o /out/flashwire ./cmd/flashwire

# Run: the binary (time zones embedded), CA certificates for rediss:// and
# partners' https, and a non-root user. No shell, no package manager.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/flashwire /flashwire
USER 65532:65532
EXPOSE 8080
ENV FLASHWIRE_ADDR=:8080
ENTRYPOINT ["/flashwire"]
CMD ["serve"]
