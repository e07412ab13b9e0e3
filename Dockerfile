# Multi-stage build on Debian bookworm. The builder uses the same scripts as CI (install-deps.sh,
# build.sh) so the image cannot drift from what CI tests; it runs the unit tests before shipping.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN BUILD_TYPE=Release BUILD_DIR=/build ./scripts/build.sh \
 && ctest --test-dir /build -L unit --output-on-failure \
 && cmake --install /build --prefix /out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaml-cpp0.7 libfmt9 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/bin/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/pdscaler"]
