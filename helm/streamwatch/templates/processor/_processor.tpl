{{/* Jobs that are enabled, as a list of names. */}}
{{- define "streamwatch.jobs" -}}
{{- $jobs := list }}
{{- range $name, $job := .Values.processor.jobs }}
{{- if $job.enabled }}{{ $jobs = append $jobs $name }}{{ end }}
{{- end }}
{{- toJson $jobs }}
{{- end }}

{{/* `streamwatch process <job> ...` arguments: (dict "root" $ "job" "fraud"). */}}
{{- define "streamwatch.jobArgs" -}}
{{- $root := .root }}
{{- /* a checkpoint holds the offsets of one kind of source: topics get their own */}}
{{- $ckpt := printf "%s/%s%s" $root.Values.processor.checkpoint.mountPath .job (ternary "-kafka" "" $root.Values.kafka.enabled) }}
- process
- {{ .job }}
{{- $k := $root.Values.kafka }}
{{- if $k.enabled }}
{{- $feed := get (dict "hashtags" "tweets" "fraud" "transactions" "orders" "orders") .job }}
- --source=kafka:{{ $k.bootstrapServers }}/{{ get ($k.topics | default dict) $feed | default (printf "%s%s" $k.topicPrefix $feed) }}
{{- if $k.clientPropertiesSecret }}
- --kafka-properties=/etc/streamwatch/kafka/client.properties
{{- end }}
{{- end }}
{{- if eq .job "hashtags" }}
{{- if not $k.enabled }}
- --source=feed:{{ include "streamwatch.url.tweets" $root }}/tweets
{{- end }}
{{- else if eq .job "fraud" }}
{{- if not $k.enabled }}
- --source=feed:{{ include "streamwatch.url.txns" $root }}/transactions
{{- end }}
- --sink=http:{{ include "streamwatch.url.alerting" $root }}/v1/alerts
{{- else if eq .job "orders" }}
{{- if not $k.enabled }}
- --source=feed:{{ include "streamwatch.url.orders" $root }}/orders
{{- end }}
{{- /* final minutes as JSONL beside the job's checkpoint (the driver writes them) */}}
- --sink=jsonl:{{ $ckpt }}/output
{{- end }}
- --checkpoint={{ $ckpt }}
- --exporter-url={{ include "streamwatch.url.exporter" $root }}
- --master={{ $root.Values.processor.master }}
{{- range (index $root.Values.processor.jobs .job).extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Spark settings shared by both modes: executors, checkpoint volume, decommissioning, metrics. */}}
{{- define "streamwatch.sparkConf" -}}
{{- $p := .root.Values.processor }}
{{- $claim := include "streamwatch.checkpointClaim" .root }}
spark.kubernetes.namespace: {{ .root.Release.Namespace | quote }}
spark.kubernetes.container.image: {{ include "streamwatch.image" (dict "root" .root "target" "spark") | quote }}
spark.kubernetes.container.image.pullPolicy: {{ .root.Values.image.pullPolicy | quote }}
spark.kubernetes.authenticate.driver.serviceAccountName: {{ include "streamwatch.serviceAccountName" .root | quote }}
spark.kubernetes.executor.podNamePrefix: {{ printf "%s-%s" (include "streamwatch.fullname" .root | trunc 30 | trimSuffix "-") .job | quote }}
spark.driver.memory: {{ $p.driver.memory | quote }}
spark.executor.instances: {{ $p.executor.instances | quote }}
spark.executor.cores: {{ $p.executor.cores | quote }}
spark.executor.memory: {{ $p.executor.memory | quote }}
spark.executor.memoryOverhead: {{ $p.executor.memoryOverhead | quote }}
spark.kubernetes.executor.limit.cores: {{ $p.executor.cpuLimit | quote }}
spark.kubernetes.executor.deleteOnTermination: "true"
spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints.options.claimName: {{ $claim | quote }}
spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints.mount.path: {{ $p.checkpoint.mountPath | quote }}
spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints.mount.readOnly: "false"
spark.decommission.enabled: "true"
spark.storage.decommission.enabled: "true"
spark.storage.decommission.shuffleBlocks.enabled: "true"
spark.storage.decommission.rddBlocks.enabled: "true"
spark.executor.decommission.killInterval: "120s"
spark.sql.streaming.metricsEnabled: "true"
spark.ui.prometheus.enabled: "true"
spark.metrics.conf.*.sink.prometheusServlet.class: "org.apache.spark.metrics.sink.PrometheusServlet"
spark.metrics.conf.*.sink.prometheusServlet.path: "/metrics/prometheus"
spark.executorEnv.PYSPARK_PYTHON: "/opt/venv/bin/python"
{{- with .root.Values.kafka }}
{{- if and .enabled .tlsSecret }}
{{- /* executors open the Kafka connections: they need the TLS files the properties name */}}
spark.kubernetes.executor.secrets.{{ .tlsSecret }}: "/etc/streamwatch/kafka-tls"
{{- end }}
{{- end }}
{{- range $k, $val := $p.sparkConf }}
{{ $k }}: {{ $val | toString | quote }}
{{- end }}
{{- end }}

{{/* Kafka client files of a pod (volumeMounts / volumes), when kafka is enabled. */}}
{{- define "streamwatch.kafkaMounts" -}}
{{- $k := .Values.kafka }}
{{- if $k.enabled }}
{{- if $k.clientPropertiesSecret }}
- {name: kafka-client, mountPath: /etc/streamwatch/kafka, readOnly: true}
{{- end }}
{{- if $k.tlsSecret }}
- {name: kafka-tls, mountPath: /etc/streamwatch/kafka-tls, readOnly: true}
{{- end }}
{{- end }}
{{- end }}

{{- define "streamwatch.kafkaVolumes" -}}
{{- $k := .Values.kafka }}
{{- if $k.enabled }}
{{- if $k.clientPropertiesSecret }}
- name: kafka-client
  secret: {secretName: {{ $k.clientPropertiesSecret }}}
{{- end }}
{{- if $k.tlsSecret }}
- name: kafka-tls
  secret: {secretName: {{ $k.tlsSecret }}}
{{- end }}
{{- end }}
{{- end }}

{{/* Env of a producer that publishes its feeds to Kafka (kafka.enabled and kafka.publish).
Takes (dict "root" . "prefix" "TXNS"): each producer reads its own STREAMWATCH_<PREFIX>_KAFKA*. */}}
{{- define "streamwatch.kafkaProducerEnv" -}}
{{- $k := .root.Values.kafka }}
{{- $p := printf "STREAMWATCH_%s" .prefix }}
{{- if and $k.enabled $k.publish }}
- name: {{ $p }}_KAFKA
  value: {{ $k.bootstrapServers | quote }}
- name: {{ $p }}_KAFKA_TOPIC_PREFIX
  value: {{ $k.topicPrefix | quote }}
{{- if $k.clientPropertiesSecret }}
- name: {{ $p }}_KAFKA_PROPERTIES
  value: /etc/streamwatch/kafka/client.properties
{{- end }}
{{- end }}
{{- end }}
