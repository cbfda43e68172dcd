# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM rust:1.64 AS buildbase
WORKDIR /src
RUN <<EOT bash
    set -ex
    apt-get update
    rustup target add wasm32-wasi
EOT
FROM buildbase AS build
COPY Cargo.toml .
COPY src ./src
RUN cargo build --target wasm32-wasi --release
FROM scratch
ENTRYPOINT [ "/hello.wasm" ]
COPY --link --from=build /src/target/wasm32-wasi/release/hello.wasm /hello.wasm
