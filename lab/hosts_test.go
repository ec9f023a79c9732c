package lab

import (
	"archive/tar"
	"io"
	"strings"
	"testing"

	"github.com/berthsh/berth/inventory"
)

// The files copied into a host before it boots: the NIC map berth-lab-prepare reads, sshd's listen address, and
// the lab key for the berth user (uid 1000 in the image, 0600).
func TestHostFiles(t *testing.T) {
	h := buildHosts("t", planHosts(0, 1, 0, 0), defaultSubnets(2))[0]
	buf, err := tarOf(hostFiles(&h, []byte("ssh-ed25519 AAAA test\n")))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	content := map[string]string{}
	tr := tar.NewReader(buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got[hdr.Name], content[hdr.Name] = hdr, string(data)
	}
	want := "eth0 172.30.12.21\neth1 172.30.22.21\neth2 172.30.32.21\neth3 172.30.42.21\n"
	if content["etc/berth-lab/nics"] != want {
		t.Errorf("nics file:\n%s\nwant:\n%s", content["etc/berth-lab/nics"], want)
	}
	if !strings.Contains(content["etc/ssh/sshd_config.d/20-berth-lab-listen.conf"], "ListenAddress "+h.NICs[inventory.Management].Address+"\n") {
		t.Errorf("sshd listen file: %q", content["etc/ssh/sshd_config.d/20-berth-lab-listen.conf"])
	}
	// A storage host has two NICs, and berth-lab-prepare names only those.
	st := buildHosts("t", planHosts(0, 0, 0, 1), defaultSubnets(2))[0]
	buf, err = tarOf(hostFiles(&st, []byte("k\n")))
	if err != nil {
		t.Fatal(err)
	}
	for tr := tar.NewReader(buf); ; {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no nics file for %s: %v", st.Name, err)
		}
		if hdr.Name == "etc/berth-lab/nics" {
			data, _ := io.ReadAll(tr)
			if want := "eth0 172.30.12.41\neth2 172.30.32.41\n"; string(data) != want {
				t.Errorf("storage host's nics file:\n%s\nwant:\n%s", data, want)
			}
			break
		}
	}
	key := got["home/berth/.ssh/authorized_keys"]
	if key == nil || key.Mode != 0o600 || key.Uid != 1000 || key.Gid != 1000 || content[key.Name] != "ssh-ed25519 AAAA test\n" {
		t.Errorf("authorized_keys entry %+v", key)
	}
}

func TestHostConfig(t *testing.T) {
	l := &Lab{Name: "t", Image: "img"}
	h := buildHosts("t", planHosts(1, 0, 0, 0), defaultSubnets(0))[0]
	cfg, hc, nc := l.hostConfig(&h, map[string]string{labelLab: "t"})
	if cfg.Hostname != "cp1" || cfg.Cmd[0] != initPath || cfg.StopSignal != "SIGRTMIN+3" {
		t.Errorf("config %+v", cfg)
	}
	if hc.Privileged || hc.CapDrop[0] != "SYS_RESOURCE" || hc.CgroupnsMode != "private" || hc.MaskedPaths == nil || len(hc.MaskedPaths) != 0 {
		t.Errorf("host config %+v", hc)
	}
	if len(hc.Mounts) != len(hostVolumes) || hc.Mounts[0].Source != "berth-t-cp1-containerd" {
		t.Errorf("mounts %+v", hc.Mounts)
	}
	ep := nc.EndpointsConfig["berth-t-management"]
	if ep == nil || ep.IPAMConfig.IPv4Address != "172.30.10.11" || len(nc.EndpointsConfig) != 1 {
		t.Errorf("endpoints %+v", nc.EndpointsConfig)
	}
}
