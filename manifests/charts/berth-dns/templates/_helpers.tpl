{{/* Labels of every object of the release. */}}
{{- define "berth-dns.labels" -}}
app.kubernetes.io/name: berth-dns
app.kubernetes.io/part-of: berth
k8s-app: kube-dns
{{- end }}

{{/* The DNS pods, as the Service and the DaemonSet select them. */}}
{{- define "berth-dns.selector" -}}
app.kubernetes.io/name: berth-dns
k8s-app: kube-dns
{{- end }}

{{/* The cluster domain and its reverse zones: what dnsmasq hands to the backend. */}}
{{- define "berth-dns.zones" -}}
{{- $zones := list .Values.clusterDomain -}}
{{- range .Values.reverseZones }}{{ $zones = append $zones . }}{{ end -}}
{{- join " " $zones -}}
{{- end }}

{{/* dnsmasq's configuration, shared by both variants; the listen address is added per host. */}}
{{- define "berth-dns.dnsmasq" -}}
# dnsmasq of berth's cluster DNS ({{ .Values.variant }} variant). Rendered by berth from the inventory: do not edit.
port={{ .Values.ports.dns }}
# Listen on the given address only (the host's control-plane address): nothing else on the host is disturbed.
bind-interfaces
# No /etc/resolv.conf (air-gapped hosts have none) and no /etc/hosts: every answer comes from the servers below.
no-resolv
no-hosts
# The cluster domain and the reverse zones of the service and pod networks go to the backend on the loopback.
{{- range splitList " " (include "berth-dns.zones" .) }}
server=/{{ . }}/127.0.0.1#{{ $.Values.ports.backend }}
{{- end }}
{{- if .Values.forward }}
# The site's own domains go to their own resolvers (the longest matching domain wins).
{{- range .Values.forward }}
{{- $domain := .domain }}
{{- range .servers }}
server=/{{ $domain }}/{{ . }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.upstreams }}
# Every other name goes to the site's resolvers.
{{- range .Values.upstreams }}
server={{ . }}
{{- end }}
{{- else }}
# No upstream resolvers: names outside the cluster are refused.
{{- end }}
cache-size={{ .Values.cacheSize }}
dns-forward-max={{ .Values.forwardMax }}
{{- end }}
