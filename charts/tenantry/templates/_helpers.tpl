{{- define "tenantry.name" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "tenantry.labels" -}}
app.kubernetes.io/name: tenantry
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tenantry.selectorLabels" -}}
app.kubernetes.io/name: tenantry
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* The `annotations:` block of an object's metadata (commonAnnotations), or nothing.
Included on a line of its own: `{{- include "tenantry.annotations" . }}`. */ -}}
{{- define "tenantry.annotations" -}}
{{- with .Values.commonAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{- /* The series of this release, as scraped through its metrics Service (a ServiceMonitor
sets job to the Service's name). */ -}}
{{- define "tenantry.alertSelector" -}}
job="{{ include "tenantry.name" . }}-metrics", namespace="{{ .Release.Namespace }}"
{{- end -}}
