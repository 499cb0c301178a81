{{/* Chart name. */}}
{{- define "streamwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: <release>-streamwatch, or the release name when it already says so. */}}
{{- define "streamwatch.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: (dict "root" $ "component" "alerting"). */}}
{{- define "streamwatch.componentName" -}}
{{- printf "%s-%s" (include "streamwatch.fullname" .root | trunc 40 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component. */}}
{{- define "streamwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamwatch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component. */}}
{{- define "streamwatch.labels" -}}
helm.sh/chart: {{ include "streamwatch.chart" .root }}
{{ include "streamwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: streamwatch
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image of one Dockerfile target: (dict "root" $ "target" "spark"). */}}
{{- define "streamwatch.image" -}}
{{- $v := .root.Values.image }}
{{- $repo := printf "%s/%s" $v.repositoryPrefix .target }}
{{- if $v.registry }}{{ $repo = printf "%s/%s" $v.registry $repo }}{{ end }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $v.tag) }}
{{- end }}

{{- define "streamwatch.adminSecretName" -}}
{{- default (include "streamwatch.componentName" (dict "root" . "component" "admin")) .Values.auth.existingSecret }}
{{- end }}

{{- /* The ingest token: the alerting service and the exporter require it on writes, the
       processor sends it. */}}
{{- define "streamwatch.ingestTokenEnv" -}}
- name: STREAMWATCH_INGEST_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "streamwatch.adminSecretName" . }}
      key: {{ .Values.auth.ingestSecretKey }}
{{- end }}

{{- define "streamwatch.serviceAccountName" -}}
{{- include "streamwatch.componentName" (dict "root" . "component" "spark") }}
{{- end }}

{{- define "streamwatch.checkpointClaim" -}}
{{- default (include "streamwatch.componentName" (dict "root" . "component" "checkpoints")) .Values.processor.checkpoint.existingClaim }}
{{- end }}

{{/* In-cluster URLs of the services. */}}
{{- define "streamwatch.url.tweets" -}}
http://{{ include "streamwatch.componentName" (dict "root" . "component" "tweet-ingester") }}:7101
{{- end }}
{{- define "streamwatch.url.txns" -}}
http://{{ include "streamwatch.componentName" (dict "root" . "component" "txn-simulator") }}:7102
{{- end }}
{{- define "streamwatch.url.orders" -}}
http://{{ include "streamwatch.componentName" (dict "root" . "component" "order-simulator") }}:7105
{{- end }}
{{- define "streamwatch.url.alerting" -}}
http://{{ include "streamwatch.componentName" (dict "root" . "component" "alerting") }}:7103
{{- end }}
{{- define "streamwatch.url.exporter" -}}
http://{{ include "streamwatch.componentName" (dict "root" . "component" "exporter") }}:7104
{{- end }}

{{/* Pod-level settings shared by every workload. */}}
{{- define "streamwatch.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Liveness (/healthz) and readiness (/readyz) probes on the named port "http". */}}
{{- define "streamwatch.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{/* Whether ServiceMonitors are rendered. */}}
{{- define "streamwatch.serviceMonitors" -}}
{{- if and .Values.monitoring.enabled (or .Values.monitoring.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
true
{{- end }}
{{- end }}

{{/* Refuse value combinations the schema cannot explain well. */}}
{{- define "streamwatch.validate" -}}
{{- if eq .Values.auth.secretKey .Values.auth.ingestSecretKey }}
{{- fail "auth.secretKey and auth.ingestSecretKey must differ: the admin and ingest tokens are two keys of one Secret." }}
{{- end }}
{{- if and .Values.auth.adminToken (eq .Values.auth.adminToken .Values.auth.ingestToken) }}
{{- fail "auth.adminToken and auth.ingestToken must differ: whoever can post alerts must not manage webhooks." }}
{{- end }}
{{- if and .Values.alerting.enabled (gt (int .Values.alerting.replicas) 1) (not .Values.alerting.database.existingSecret) }}
{{- fail (printf "alerting.replicas=%d needs a shared PostgreSQL: SQLite on a ReadWriteOnce claim cannot be shared between replicas. Create a Secret with the URL (kubectl create secret generic streamwatch-db --from-literal=url=postgresql://...) and set alerting.database.existingSecret=streamwatch-db, or set alerting.replicas=1." (int .Values.alerting.replicas)) }}
{{- end }}
{{- end }}
