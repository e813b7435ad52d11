{{- define "policyctl.name" -}}
{{ .Release.Name }}
{{- end }}

{{- define "policyctl.selectorLabels" -}}
app.kubernetes.io/name: {{ .Release.Name }}
{{- end }}

{{- define "policyctl.tlsSecret" -}}
{{- if .Values.tls.certManager -}}
{{ .Release.Name }}-webhook-tls
{{- else -}}
{{ .Values.tls.secretName }}
{{- end }}
{{- end }}
