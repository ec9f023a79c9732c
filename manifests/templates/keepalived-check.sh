#!/bin/bash
# Healthy when haproxy accepts connections on the API port of this host (written by berth).
exec 3<>/dev/tcp/127.0.0.1/{{ .Port }}
