{{/* Names and labels shared by every template. */}}

{{- define "openclaw-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openclaw-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "openclaw-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openclaw-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "openclaw-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "openclaw-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: clawhost
{{- end -}}

{{- define "openclaw-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openclaw-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "openclaw-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "openclaw-operator.whmcsNamespace" -}}
{{- default .Release.Namespace .Values.whmcs.namespace -}}
{{- end -}}

{{/* Where the provider tokens are mounted; the operator reads them through the *_FILE variables. */}}
{{- define "openclaw-operator.tokenDir" -}}
/var/run/secrets/clawhost.dev/providers
{{- end -}}

{{/* Where the channel's SSH private key is mounted (CLAWHOST_CHANNEL_SSH_KEY_FILE points into it). */}}
{{- define "openclaw-operator.channelKeyDir" -}}
/var/run/secrets/clawhost.dev/channel
{{- end -}}

{{/*
The operator's permissions on the namespaced kinds it serves. One list, rendered into a ClusterRole
(all namespaces) or into a Role per watched namespace, so the two modes cannot drift apart.
Each rule is exercised by tests/chart/test_operator_rbac.py, which also shows that removing any one of
them makes a request the operator really sends fail.
*/}}
{{- define "openclaw-operator.operatorRules" -}}
# Kopf lists and watches the instances it serves, and patches them for its finalizer and its
# bookkeeping annotations.
- apiGroups: ["clawhost.dev"]
  resources: ["openclawinstances"]
  verbs: ["list", "watch", "patch"]
# The operator's public API is status; it never writes spec.
- apiGroups: ["clawhost.dev"]
  resources: ["openclawinstances/status"]
  verbs: ["patch"]
# The gateway token Secret an instance references. RBAC cannot restrict by reference, only by fixed name,
# so this is read access to Secrets wherever the operator watches; set watchNamespaces to narrow it.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Events on instances (Kopf posts core/v1 Events).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/*
CLAWHOST_HETZNER_PROJECTS: the projects' settings as JSON, each token as a file in the token directory.
*/}}
{{- define "openclaw-operator.projectsJson" -}}
{{- $entries := list -}}
{{- range .projects -}}
{{- $entry := dict "name" .name "tokenFile" (printf "%s/%s" $.tokenDir .tokenKey) -}}
{{- if hasKey . "serverQuota" }}{{ $_ := set $entry "serverQuota" .serverQuota }}{{ end -}}
{{- if hasKey . "concurrency" }}{{ $_ := set $entry "concurrency" .concurrency }}{{ end -}}
{{- if hasKey . "locations" }}{{ $_ := set $entry "locations" .locations }}{{ end -}}
{{- $entries = append $entries $entry -}}
{{- end -}}
{{- toJson $entries -}}
{{- end -}}

{{/* The warm pool's slots as CLAWHOST_WARM_POOL: fsn1/cx23=3,nbg1/cx33=1 */}}
{{- define "openclaw-operator.warmPool" -}}
{{- $slots := list -}}
{{- range . -}}
{{- $slots = append $slots (printf "%s/%s=%d" .location .serverType (int .size)) -}}
{{- end -}}
{{- join "," $slots -}}
{{- end -}}
