#!/bin/sh
# Upload throughput of berth's SFTP uploader against OpenSSH scp, to a lab host (make bench calls this).
# Needs Docker (the lab "t-remote" is created or reused). BERTH_BENCH_UPLOAD_MB sets the file size (default 200).
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench '^BenchmarkLabUploadVsSCP$' -benchtime "${BENCH_TIMES:-3}x" ./internal/remote/ |
	grep -E 'Benchmark|berth .* MB/s|^ok|FAIL'
