# syntax=docker/dockerfile:1
#
# The QuickTalk server image: one static binary (musl, every C dependency
# built in), CA certificates and an empty /data, on `scratch`: no shell, no
# package manager, no compiler. About 27 MB.
#
#   docker build -t quicktalk .                       # builds the binary in a Rust image
#   docker run -p 8080:8080 -v quicktalk-data:/data quicktalk
#
# Where no base image can be pulled (our CI), scripts/image.sh builds the
# static binary on the host into dist/ and builds the same file with
# `--build-arg BINARY_FROM=prebuilt`, so the runtime stage needs no image.
# Every setting is a QUICKTALK_* variable (see the README's configuration
# table); the image sets only the ones that make it a container.

# `build` (compile here) or `prebuilt` (dist/ from scripts/image.sh).
ARG BINARY_FROM=build

# --- build: the static binary, from source ----------------------------------
FROM docker.io/library/rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked -p quicktalk-server \
        --features vendored,mimalloc --target x86_64-unknown-linux-musl \
    && mkdir -p /out/data \
    && cp target/x86_64-unknown-linux-musl/dist/quicktalk /out/quicktalk \
    && strip /out/quicktalk \
    && cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

# --- prebuilt: the same layout, made on the host by scripts/image.sh ---------
FROM scratch AS prebuilt
COPY dist/ /out/

FROM ${BINARY_FROM} AS binary

# --- runtime ------------------------------------------------------------------
FROM scratch AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="QuickTalk" \
      org.opencontainers.image.description="Anonymous one-to-one random chat server" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.source="https://github.com/quicktalk/quicktalk" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary /out/quicktalk /quicktalk
COPY --from=binary /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The data volume belongs to the server's user (not root).
COPY --from=binary --chown=10001:10001 /out/data /data
USER 10001:10001
ENV QUICKTALK_BIND=0.0.0.0:8080 \
    QUICKTALK_STORE=sqlite:///data/quicktalk.db \
    QUICKTALK_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/data"]
EXPOSE 8080
# The check asks http://127.0.0.1:8080/livez (QUICKTALK_HEALTHCHECK_URL when
# QUICKTALK_BIND moves the port).
# SIGTERM (what `docker stop` sends) closes every client with 1001 and
# flushes the store; 20 s covers a slow store.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/quicktalk", "healthcheck"]
ENTRYPOINT ["/quicktalk"]
CMD ["serve"]
