# Builds the operator image the Helm chart runs:
#   docker build -t registry.example.com/tenantry/operator:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY controller controller
# The crate declares its integration tests there; cargo wants them present.
COPY tests tests
RUN cargo build --release --locked --bin tenantry

# Runs as an unprivileged user with no shell: the binary is all it needs.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tenantry /usr/local/bin/tenantry
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tenantry"]
CMD ["run"]
