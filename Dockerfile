# mlmd-log: the `mlmd-log` command (serve, project, sql, ...) in a small, non-root image.
#   docker build -t mlmd-log .
#   docker run --rm mlmd-log --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what `pip install .` needs: the project metadata and the package folders it maps (pyproject.toml).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mlmd_log ./mlmd_log
COPY producer ./producer
COPY projector ./projector
COPY query ./query
COPY schemas ./schemas
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin mlmd \
    && mkdir -p /data \
    && chown mlmd:mlmd /data \
    && rm -rf /src

USER mlmd
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["mlmd-log"]
CMD ["--help"]
