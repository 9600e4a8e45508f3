# Stand-in for postgres:15-bookworm (built by build.sh only when no registry has it): Debian
# bookworm's PostgreSQL 15 with the parts of the official image's entrypoint the compose stack
# uses: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the cluster on first start in
# PGDATA, password (scram-sha-256) logins from other hosts, pg_isready on PATH.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY --chmod=0755 postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# The Debian package's system user (its uid is not fixed): as in the official image.
# hadolint ignore=DL3066
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
