# syntax=docker/dockerfile:1
#
# accord in a container: a static, pure-Go binary on a distroless base, run
# as a non-root user, healthy when `accord serve` says its store accepts a
# write (GET /readyz, asked by `accord healthcheck`: the image has no shell
# and no curl).
#
#   docker build --build-arg VERSION=v1.0.0 --build-arg COMMIT=$(git rev-parse HEAD) -t accord .
#   docker run -v $PWD/accord.yaml:/etc/accord/accord.yaml:ro -v accord-state:/var/lib/accord -p 8080:8080 accord
#
# The config must listen beyond loopback to be reachable (api.listen: ":8080")
# and keep its SQLite file in the state volume (store.path: /var/lib/accord/accord.db),
# or use PostgreSQL.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first: a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context, so the commit comes as an argument.
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/accord-iam/accord/internal/buildinfo.Version=${VERSION} -X github.com/accord-iam/accord/internal/buildinfo.Commit=${COMMIT}" \
      -o /out/accord ./cmd/accord \
 && mkdir -p /out/state

# distroless/static: CA certificates, time zones and a nonroot user (65532), nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/accord /usr/local/bin/accord
COPY --from=build --chown=65532:65532 /out/state /var/lib/accord
USER 65532:65532
WORKDIR /var/lib/accord
ENV ACCORD_CONFIG=/etc/accord/accord.yaml
VOLUME ["/var/lib/accord"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/accord", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/accord"]
CMD ["serve"]
