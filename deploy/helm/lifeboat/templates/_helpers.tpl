{{- /* The image of the webhook, the runner and the worker Jobs: repository:tag. */}}
{{- define "lifeboat.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
