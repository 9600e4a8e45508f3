# Stand-in for redis:7.0-bookworm (built by build.sh only when no registry has it): Debian
# bookworm's Redis 7.0 run as the official image runs it without a config file: listening on
# every address of the container, protected mode off, data in /data.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
# The Debian package's system user (its uid is not fixed): as in the official image.
# hadolint ignore=DL3066
USER redis
VOLUME ["/data"]
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
