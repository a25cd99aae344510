# order-host: the host binary and the default plugins, built in one stage, shipped in a slim one.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN scripts/build-plugins.sh \
 && cargo build --release --locked -p order-host

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app order-host
WORKDIR /app
COPY --from=build /src/target/release/order-host /usr/local/bin/order-host
COPY --from=build /src/plugins/dist/validation.wasm /src/plugins/dist/payment.wasm /src/plugins/dist/shipping.wasm /app/plugins/
RUN mkdir -p /app/data && chown -R order-host /app
USER order-host
ENV PLUGINS_DIR=/app/plugins \
    DATA_DIR=/app/data \
    HTTP_ADDR=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=20 CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
CMD ["order-host", "serve"]
