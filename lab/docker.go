package lab

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Labels on every Docker object of a lab, so that Down and DownAll find them all even without the lab directory.
const (
	labelLab   = "sh.berth.lab"       // lab name
	labelDir   = "sh.berth.lab.dir"   // lab directory (containers and networks)
	labelTest  = "sh.berth.lab.test"  // "true" on labs created by tests
	labelHost  = "sh.berth.lab.host"  // host name (containers, volumes)
	labelPlane = "sh.berth.lab.plane" // plane (networks)
	labelImage = "sh.berth.lab.image" // recipe digest (base images)
)

// ErrPrerequisite marks errors caused by something missing on this machine (no Docker engine, no debootstrap),
// as opposed to a lab that failed. labtest skips on it unless CI is set.
var ErrPrerequisite = errors.New("lab prerequisite missing")

// newDocker connects to the Docker engine named by the environment (DOCKER_HOST, default the local socket) and
// checks that it answers.
func newDocker(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connect to Docker: %w: %w", err, ErrPrerequisite)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("connect to Docker (start dockerd, e.g. with hack/deps.sh): %w: %w", err, ErrPrerequisite)
	}
	return cli, nil
}

// labFilter selects the Docker objects of one lab.
func labFilter(lab string) filters.Args {
	return filters.NewArgs(filters.Arg("label", labelLab+"="+lab))
}

// execResult is the outcome of a command run with docker exec.
type execResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// dockerExec runs cmd as root in a running container and waits for it.
func dockerExec(ctx context.Context, cli *client.Client, ctr string, cmd []string) (execResult, error) {
	var res execResult
	created, err := cli.ContainerExecCreate(ctx, ctr, container.ExecOptions{Cmd: cmd, User: "root",
		AttachStdout: true, AttachStderr: true})
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	att, err := cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	defer att.Close()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return res, fmt.Errorf("exec in %s: %w", ctr, ctx.Err())
	}
	if err != nil {
		return res, fmt.Errorf("exec in %s: read output: %w", ctr, err)
	}
	insp, err := cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return res, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	return execResult{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: insp.ExitCode}, nil
}

// mustExec is dockerExec that also fails on a non-zero exit, with the command's output in the error.
func mustExec(ctx context.Context, cli *client.Client, ctr string, cmd ...string) (string, error) {
	res, err := dockerExec(ctx, cli, ctr, cmd)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return res.Stdout, fmt.Errorf("run %q in %s: exit %d: %s", strings.Join(cmd, " "), ctr, res.ExitCode,
			strings.TrimSpace(res.Stderr+"\n"+res.Stdout))
	}
	return res.Stdout, nil
}

// tarFile is one regular file to copy into a container.
type tarFile struct {
	Path     string // absolute path in the container
	Mode     int64
	UID, GID int
	Data     []byte
}

// tarOf builds a tar stream to extract at "/" with CopyToContainer. Parent directories must already exist.
func tarOf(files []tarFile) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			Size: int64(len(f.Data)), Typeflag: tar.TypeReg, ModTime: time.Now(), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("pack %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("pack %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack files: %w", err)
	}
	return &buf, nil
}
