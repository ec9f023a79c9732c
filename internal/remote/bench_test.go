package remote_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berthsh/berth/internal/remote"
)

// BenchmarkLabUploadVsSCP uploads the same file to a lab host with berth's Upload (to a root-owned path: staged,
// verified by sha256 on the host, renamed) and with OpenSSH scp (to the login's home), and reports both
// throughputs and their ratio. BERTH_BENCH_UPLOAD_MB sets the file size (default 200). Run it with
// hack/bench-upload.sh (make bench).
func BenchmarkLabUploadVsSCP(b *testing.B) {
	env := requireLab(b)
	ctx := context.Background()
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("BERTH_BENCH_UPLOAD_MB")); err == nil && v > 0 {
		mb = v
	}
	size := int64(mb) << 20
	src := writeRandomFile(b, size)
	const host = "worker1"
	e := env.executor(b, host)
	if err := e.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	h := env.inv.Host(host)
	tgt := env.inv.SSHFor(h)
	scpArgs := []string{"-q", "-i", tgt.IdentityFiles[0], "-o", "UserKnownHostsFile=" + tgt.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-P", strconv.Itoa(tgt.Port),
		src, tgt.User + "@" + h.Address + ":payload.scp"}
	dst := "/opt/berth-bench/payload.bin"
	clean := func() { env.rootExec(b, host, "rm -rf /opt/berth-bench ~berth/payload.scp") }
	b.Cleanup(clean)

	var berthTime, scpTime, skipTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clean()
		b.StartTimer()
		start := time.Now()
		res, err := e.Upload(ctx, src, dst, remote.UploadOptions{})
		berthTime += time.Since(start)
		if err != nil || res.Sent != size {
			b.Fatalf("upload: %+v %v", res, err)
		}
		start = time.Now()
		res, err = e.Upload(ctx, src, dst, remote.UploadOptions{})
		skipTime += time.Since(start)
		if err != nil || !res.Skipped {
			b.Fatalf("second upload not skipped: %+v %v", res, err)
		}
		start = time.Now()
		if out, err := exec.Command("scp", scpArgs...).CombinedOutput(); err != nil {
			b.Fatalf("scp: %v\n%s", err, out)
		}
		scpTime += time.Since(start)
	}
	n := float64(b.N)
	berthRate := float64(size) / 1e6 / (berthTime.Seconds() / n)
	scpRate := float64(size) / 1e6 / (scpTime.Seconds() / n)
	b.ReportMetric(berthRate, "berth-MB/s")
	b.ReportMetric(scpRate, "scp-MB/s")
	b.ReportMetric(berthRate/scpRate, "berth/scp")
	b.ReportMetric((skipTime / time.Duration(b.N)).Seconds(), "skip-s")
	b.Logf("%d MiB to %s: berth %.1f MB/s (verified, root-owned path), scp %.1f MB/s, ratio %.2f; unchanged re-upload %.2fs, 0 bytes",
		mb, filepath.Base(dst), berthRate, scpRate, berthRate/scpRate, (skipTime / time.Duration(b.N)).Seconds())
}
