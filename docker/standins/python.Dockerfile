# Stand-in for python:3.11-slim-bookworm (built by build.sh only when no registry has it):
# Debian bookworm's own Python 3.11 with venv and pip (ensurepip), at /usr/bin instead of
# /usr/local/bin. tonewatch's Dockerfile creates a virtualenv, so either image serves it.
FROM debian:bookworm-slim
ENV LANG=C.UTF-8
# Unpinned (DL3008): the stand-in follows the bookworm release it is built from.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates netbase tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s python3 /usr/bin/python
CMD ["python3"]
