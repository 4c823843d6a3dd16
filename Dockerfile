# Build: a static binary from the Go module proxy and this source, nothing else.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flashwire ./cmd/flashwire

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
