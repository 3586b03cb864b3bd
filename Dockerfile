# trafik's image: nothing but the binary, CA certificates for https backends, and a
# non-root user. Built from files on the host (no builder image is pulled):
#
#   RUSTFLAGS="-C target-feature=+crt-static" \
#     cargo build --release --target x86_64-unknown-linux-gnu
#   mkdir -p target/docker
#   strip -o target/docker/trafik target/x86_64-unknown-linux-gnu/release/trafik
#   cp /etc/ssl/certs/ca-certificates.crt target/docker/
#   docker build -t trafik .
#
# The binary is static (glibc's crt-static), so the image needs no shared library; it is
# stripped (the release profile keeps line tables for backtraces: 86 MB unstripped).
# .dockerignore sends the daemon only target/docker/, not the whole target/ directory.
FROM scratch
COPY target/docker/trafik /trafik
COPY target/docker/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Non-root by default (uid/gid 65532, no passwd file needed). Binding 80 and 443 as
# non-root needs `--sysctl net.ipv4.ip_unprivileged_port_start=0` or `--user 0`; reading
# the Docker socket needs its group (`--group-add <gid of /var/run/docker.sock>`).
USER 65532:65532
EXPOSE 80 443 8080
# `trafik healthcheck` asks /ping on [ping]'s entry point: needs [ping] in the configuration.
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s CMD ["/trafik", "healthcheck"]
WORKDIR /etc/trafik
ENTRYPOINT ["/trafik"]
