# syntax=docker/dockerfile:1.7
# One multi-target Dockerfile for every Streamwatch image. The project is one Python
# distribution, so all images share one wheel build and one dependency layer; the
# targets differ only in what they run, expose and health-check (see docs/deploy.md).
#
#   docker build --target tweet-ingester -t streamwatch/tweet-ingester:0.1.0 .
#   targets: tweet-ingester txn-simulator alerting exporter spark

# Python 3.11 is what pyproject.toml requires; bookworm matches the dev machines.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# PySpark 4.3 starts executors with --sun-misc-unsafe-memory-access=allow, an option
# only JDK 23+ knows; Debian bookworm ships JDK 17, so the JRE comes from Temurin 25 LTS.
ARG JRE_IMAGE=eclipse-temurin:25.0.1_8-jre-noble

FROM ${JRE_IMAGE} AS jre

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first: this layer is reused until the lock changes, not on every code edit.
COPY docker/requirements.lock docker/requirements.lock
# pyspark is published as an sdist only, so the builder may build wheels; the runtime
# stage below gets the finished venv and no compiler, pip or setuptools.
RUN pip install --no-deps -r docker/requirements.lock
COPY pyproject.toml README.md ./
COPY services services
COPY spark spark
RUN pip install --no-deps . \
    && pip check \
    && pip uninstall --yes pip setuptools

# ---------------------------------------------------------------- runtime base
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMWATCH_DATA_DIR=/data
# pip and setuptools are build tools: the runtime never installs anything.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 streamwatch \
    && useradd --system --uid 10001 --gid streamwatch --home-dir /home/streamwatch \
       --create-home --shell /usr/sbin/nologin streamwatch \
    && install -d -o streamwatch -g streamwatch -m 0750 /data /checkpoints
COPY --from=builder /opt/venv /opt/venv
WORKDIR /home/streamwatch
USER 10001:10001
ENTRYPOINT ["streamwatch"]

# ---------------------------------------------------------------- services
FROM runtime AS tweet-ingester
EXPOSE 7101 7201
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:7101/healthz', timeout=2)"]
CMD ["tweets", "--host", "0.0.0.0", "--http-port", "7101", "--socket-port", "7201", "--data-dir", "/data"]

FROM runtime AS txn-simulator
EXPOSE 7102 7202
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:7102/healthz', timeout=2)"]
CMD ["txns", "--host", "0.0.0.0", "--http-port", "7102", "--socket-port", "7202", "--data-dir", "/data"]

FROM runtime AS alerting
# gunicorn (gthread workers) reads every setting from STREAMWATCH_* env twins.
ENV STREAMWATCH_DB=/data/alerts.db \
    STREAMWATCH_HOST=0.0.0.0 \
    STREAMWATCH_PORT=7103
EXPOSE 7103
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:7103/healthz', timeout=2)"]
ENTRYPOINT ["gunicorn"]
CMD ["-c", "python:alerting_service.gunicorn_conf", "alerting_service.wsgi:app"]

FROM runtime AS exporter
EXPOSE 7104
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:7104/healthz', timeout=2)"]
CMD ["exporter", "--host", "0.0.0.0", "--port", "7104", "--alerting-url", "http://alerting:7103", "--labels-url", "http://txn-simulator:7102/v1/feeds/labels"]

# ---------------------------------------------------------------- spark
# Driver (streamwatch process ...), standalone master/worker and Kubernetes executor.
FROM runtime AS spark
ENV JAVA_HOME=/opt/java/openjdk \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    SPARK_WORKER_DIR=/tmp/spark-work \
    SPARK_HEALTH_URL=http://127.0.0.1:4040/api/v1/applications
ENV PATH=$JAVA_HOME/bin:$SPARK_HOME/bin:$PATH
COPY --from=jre /opt/java/openjdk /opt/java/openjdk
COPY --chmod=0755 docker/spark-entrypoint.sh /opt/streamwatch/entrypoint.sh
# 4040 driver UI, 7077 master RPC, 8080 master UI, 8081 worker UI, 7078/7079 driver ports.
EXPOSE 4040 7077 7078 7079 8080 8081
VOLUME ["/checkpoints"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["/opt/streamwatch/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/opt/streamwatch/entrypoint.sh"]
CMD ["streamwatch", "process", "--help"]
