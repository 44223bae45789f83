{{/* Names, labels and the rendered broker config. */}}

{{- define "gatehouse-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatehouse-broker.fullname" -}}
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

{{- define "gatehouse-broker.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "gatehouse-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gatehouse-broker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: identity-provider
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gatehouse-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gatehouse-broker.configSecretName" -}}
{{- if .Values.configSecret.create }}
{{- default (include "gatehouse-broker.fullname" .) .Values.configSecret.name }}
{{- else }}
{{- required "configSecret.name: name the existing Secret holding config.yaml (configSecret.create is false)" .Values.configSecret.name }}
{{- end }}
{{- end }}

{{- define "gatehouse-broker.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The gRPC API is on when Dex's switch `grpc.enabled` is set or the config has Dex's `grpc:` block.
*/}}
{{- define "gatehouse-broker.grpcEnabled" -}}
{{- if or .Values.grpc.enabled (hasKey .Values.config "grpc") }}true{{- end }}
{{- end }}

{{/*
The config file the broker reads: `config` as given, with the listen addresses the pod's ports
and probes rely on. Dex's chart passes these as command-line flags, which override the file;
the broker takes them from the file only, so the chart writes them there (a value the user
gave for them is replaced, as Dex's flags replace it).
*/}}
{{- define "gatehouse-broker.config" -}}
{{- $config := include "gatehouse-broker.givenConfig" . | fromYaml }}
{{- $web := default dict (get $config "web") }}
{{- $_ := set $web "http" (printf "0.0.0.0:%d" (int .Values.containerPorts.http)) }}
{{- $_ := set $config "web" $web }}
{{- $telemetry := default dict (get $config "telemetry") }}
{{- $_ := set $telemetry "http" (printf "0.0.0.0:%d" (int .Values.containerPorts.telemetry)) }}
{{- $_ := set $config "telemetry" $telemetry }}
{{- if include "gatehouse-broker.grpcEnabled" . }}
{{- $grpc := default dict (get $config "grpc") }}
{{- $_ := set $grpc "addr" (printf "0.0.0.0:%d" (int .Values.containerPorts.grpc)) }}
{{- $_ := set $config "grpc" $grpc }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
`config` as given or, when it is empty, a starter that passes check-config: SQLite in the pod,
the password database on, no users. It is not a values default, because Helm would merge its
keys into every user's config (a PostgreSQL config would gain SQLite's `file`).
*/}}
{{- define "gatehouse-broker.givenConfig" -}}
{{- if .Values.config }}
{{- toYaml .Values.config }}
{{- else }}
issuer: {{ printf "http://%s.%s.svc.cluster.local:%d/dex" (include "gatehouse-broker.fullname" .) (include "gatehouse-broker.namespace" .) (int .Values.service.ports.http.port) }}
storage:
  type: sqlite3
  config:
    file: /var/lib/gatehouse/gatehouse.db
enablePasswordDB: true
{{- end }}
{{- end }}

{{/*
Refuses what would render but not work: several pods on storage that only one pod can use.
*/}}
{{- define "gatehouse-broker.checks" -}}
{{- $given := include "gatehouse-broker.givenConfig" . | fromYaml }}
{{- $storage := default dict $given.storage }}
{{- $type := default "" $storage.type }}
{{- $several := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- if and $several (ne $type "postgres") .Values.configSecret.create }}
{{- fail (printf "config.storage.type is %q, but replicaCount > 1 or autoscaling.enabled: several replicas share state only through PostgreSQL (storage.type: postgres); each pod would have its own %s" $type $type) }}
{{- end }}
{{- end }}
