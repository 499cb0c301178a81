# One multi-target Dockerfile for every Streamwatch image. The project is one Python
# distribution built twice: with Spark's stack for the spark image, without it (pyspark,
# py4j, pandas, pyarrow, grpcio, protobuf, vaderSentiment) for the five services, which
# import none of it. The targets differ in what they run, expose and health-check
# (see docs/deploy.md).
#
#   docker build --target tweet-ingester -t streamwatch/tweet-ingester:0.1.0 .
#   targets: tweet-ingester txn-simulator order-simulator alerting exporter spark kafka
#
# Without a registry, `make images OFFLINE=1` builds both base images from Debian packages
# and this machine's JDK (scripts/containers-setup.sh) and passes them as the two args.

# Python 3.11 is what pyproject.toml requires; bookworm matches the dev machines.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# PySpark 4.2 starts executors with --sun-misc-unsafe-memory-access=allow, an option
# only JDK 23+ knows; Debian bookworm ships JDK 17, so the JRE comes from Temurin 25 LTS.
ARG JRE_IMAGE=eclipse-temurin:25.0.1_8-jre-noble

FROM ${JRE_IMAGE} AS jre

# ---------------------------------------------------------------- builders
FROM ${PYTHON_IMAGE} AS build-base
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first: their layers are reused until the lock changes, not on every code edit.
COPY docker/requirements.lock docker/requirements.lock

FROM build-base AS builder
# pyspark is published as an sdist only, so the builder may build wheels; the runtime
# stage below gets the finished venv and no compiler, pip or setuptools.
RUN pip install --no-deps -r docker/requirements.lock
COPY pyproject.toml README.md ./
COPY src src
RUN pip install --no-deps . \
    && pip check \
    && pip uninstall --yes pip setuptools

FROM build-base AS builder-services
RUN grep -viE '^(pyspark|py4j|pandas|pyarrow|grpcio|protobuf|vadersentiment)==' \
        docker/requirements.lock > /tmp/services.lock \
    && pip install --no-deps -r /tmp/services.lock
COPY pyproject.toml README.md ./
COPY src src
COPY docker/check_imports.py /tmp/check_imports.py
# pip check would name the Spark packages left out on purpose; importing every module
# but the Spark side (streamwatch.processor, streamwatch.launcher) proves nothing the
# five services need is missing.
RUN pip install --no-deps . \
    && python /tmp/check_imports.py streamwatch.cli streamwatch.core streamwatch.contracts \
       streamwatch.feed streamwatch.producers streamwatch.quality streamwatch.alerting \
       streamwatch.exporter \
    && pip uninstall --yes pip setuptools

# ---------------------------------------------------------------- runtime bases
FROM ${PYTHON_IMAGE} AS runtime-base
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# pip and setuptools are build tools: the runtime never installs anything.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 streamwatch \
    && useradd --system --uid 10001 --gid streamwatch --home-dir /home/streamwatch \
       --create-home --shell /usr/sbin/nologin streamwatch \
    && install -d -o streamwatch -g streamwatch -m 0750 /data /checkpoints
COPY --chmod=0755 docker/healthcheck /opt/streamwatch/healthcheck
WORKDIR /home/streamwatch
USER 10001:10001
ENTRYPOINT ["streamwatch"]

FROM runtime-base AS service-runtime
COPY --from=builder-services /opt/venv /opt/venv

FROM runtime-base AS runtime
COPY --from=builder /opt/venv /opt/venv

# ---------------------------------------------------------------- services
FROM service-runtime AS tweet-ingester
EXPOSE 7101 7201
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/streamwatch/healthcheck", "http://127.0.0.1:7101/healthz"]
CMD ["tweets", "--host", "0.0.0.0", "--http-port", "7101", "--socket-port", "7201", "--data-dir", "/data"]

FROM service-runtime AS txn-simulator
EXPOSE 7102 7202
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/streamwatch/healthcheck", "http://127.0.0.1:7102/healthz"]
CMD ["txns", "--host", "0.0.0.0", "--http-port", "7102", "--socket-port", "7202", "--data-dir", "/data"]

FROM service-runtime AS order-simulator
EXPOSE 7105 7205
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/streamwatch/healthcheck", "http://127.0.0.1:7105/healthz"]
CMD ["orders", "--host", "0.0.0.0", "--http-port", "7105", "--socket-port", "7205", "--data-dir", "/data"]

FROM service-runtime AS alerting
# gunicorn (gthread workers) reads every setting from its STREAMWATCH_ALERTING_* env twin.
ENV STREAMWATCH_ALERTING_DATA_DIR=/data \
    STREAMWATCH_ALERTING_DB=/data/alerts.db \
    STREAMWATCH_ALERTING_HOST=0.0.0.0 \
    STREAMWATCH_ALERTING_PORT=7103
EXPOSE 7103
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/streamwatch/healthcheck", "http://127.0.0.1:7103/healthz"]
ENTRYPOINT ["gunicorn"]
CMD ["-c", "python:streamwatch.alerting.gunicorn_conf", "streamwatch.alerting.wsgi:app"]

FROM service-runtime AS exporter
EXPOSE 7104
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/streamwatch/healthcheck", "http://127.0.0.1:7104/healthz"]
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
# Spark's preStop hook for executors with spark.decommission.enabled runs this path.
COPY --chmod=0755 docker/decom.sh /opt/decom.sh
# mainApplicationFile of the spark-operator's SparkApplication (spark-submit needs a .py).
COPY docker/spark-main.py /opt/streamwatch/main.py
# Spark's Kafka connector (kafka: sources), fetched from Maven Central by scripts/fetch-kafka.sh
# before the build: the image needs no registry at run time.
COPY .tools/kafka/connector/*.jar /opt/streamwatch/kafka-jars/
ENV STREAMWATCH_KAFKA_JARS=/opt/streamwatch/kafka-jars
# 4040 driver UI, 7077 master RPC, 8080 master UI, 8081 worker UI, 7078/7079 driver ports.
EXPOSE 4040 7077 7078 7079 8080 8081
VOLUME ["/checkpoints"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["/opt/streamwatch/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/opt/streamwatch/entrypoint.sh"]
CMD ["streamwatch", "process", "--help"]

# ---------------------------------------------------------------- kafka
# One Apache Kafka broker (KRaft) for the compose stack's Kafka transport
# (docker-compose.kafka.yml); its classpath comes from Maven Central (scripts/fetch-kafka.sh).
FROM ${PYTHON_IMAGE} AS kafka
ENV JAVA_HOME=/opt/java/openjdk
ENV PATH=$JAVA_HOME/bin:$PATH
COPY --from=jre /opt/java/openjdk /opt/java/openjdk
COPY .tools/kafka/broker/*.jar /opt/kafka/libs/
COPY --chmod=0755 docker/kafka-entrypoint.sh /opt/kafka/entrypoint.sh
RUN groupadd --system --gid 10001 kafka \
    && useradd --system --uid 10001 --gid kafka --no-create-home --shell /usr/sbin/nologin kafka \
    && install -d -o kafka -g kafka -m 0750 /var/lib/kafka/data
USER 10001:10001
EXPOSE 9092
VOLUME ["/var/lib/kafka/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=6 \
    CMD ["/opt/kafka/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/opt/kafka/entrypoint.sh"]
