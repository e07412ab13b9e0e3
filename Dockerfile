# Multi-stage build on Debian bookworm. The builder uses the same scripts as CI (install-deps.sh,
# build.sh) so the image cannot drift from what CI tests, runs the unit tests before shipping, and
# derives the runtime packages from the binaries it built (scripts/runtime-packages.sh).
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN BUILD_TYPE=Release BUILD_DIR=/build ./scripts/build.sh \
 && ctest --test-dir /build -L unit --output-on-failure \
 && cmake --install /build --prefix /out \
 && ./scripts/runtime-packages.sh /out/bin/pdscaler /out/bin/pdscaler-operator > /out/runtime-packages.txt

FROM debian:bookworm-slim
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /out/bin/ /usr/local/bin/
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/pdscaler-operator"]
