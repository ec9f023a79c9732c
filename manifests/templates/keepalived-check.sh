#!/bin/bash
# Healthy when {{ .What }} accepts connections on {{ .Addr }}:{{ .Port }} (written by berth).
exec 3<>/dev/tcp/{{ .Addr }}/{{ .Port }}
