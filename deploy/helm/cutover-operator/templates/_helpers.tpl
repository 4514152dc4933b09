{{/* The one image reference: the operator's container and CUTOVER_IMAGE (the Jobs it runs). */}}
{{- define "cutover-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "cutover-operator.selectorLabels" -}}
app.kubernetes.io/name: cutover-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cutover-operator.labels" -}}
{{ include "cutover-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
The rules of a ClusterRole or Role (.kind, .name) of deploy/operator/rbac.yaml (files/rbac.yaml links to it): that file is
the one source of the operator's permissions, checked against the API calls the code declares.
*/}}
{{- define "cutover-operator.rulesOf" -}}
{{- $name := .name -}}
{{- $kind := .kind -}}
{{- $rules := list -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" (.root.Files.Get "files/rbac.yaml") -1 -}}
{{- $o := fromYaml $doc -}}
{{- if and (eq (get $o "kind") $kind) (eq (get (get $o "metadata" | default dict) "name") $name) -}}
{{- $rules = get $o "rules" -}}
{{- end -}}
{{- end -}}
{{- if not $rules -}}
{{- fail (printf "files/rbac.yaml has no %s %s" $kind $name) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
