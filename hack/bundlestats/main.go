// Command bundlestats prints a bundle's size against the sum of its parts and its verification throughput; the
// bundle benchmark (hack/bench-bundle.sh) runs it.
//
//	go run ./hack/bundlestats BUNDLE PUBLIC_KEY
package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/berthsh/berth/bundles"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bundlestats BUNDLE PUBLIC_KEY")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "bundlestats:", err)
		os.Exit(1)
	}
}

func run(path, keyPath string) error {
	pub, err := bundles.LoadPublicKey(keyPath)
	if err != nil {
		return err
	}
	h, err := bundles.ReadHeader(path, bundles.VerifyOptions{})
	if err != nil {
		return err
	}
	m := h.Manifest
	// The parts as they would travel without a bundle: every image as its own archive (shared layers counted
	// each time), every binary, package and chart on its own, uncompressed.
	var parts, images int64
	for _, im := range m.Images {
		images += m.ImageBytes(im)
	}
	parts = images
	for _, f := range m.Files {
		switch f.Kind {
		case bundles.KindImageBlob, bundles.KindImageIndex:
		default:
			parts += f.Size
		}
	}
	payload := m.TotalSize()
	fmt.Printf("bundle %s (%s %s): %d files, %d images, %d packages\n", path, m.Name, m.Version, len(m.Files), len(m.Images), len(m.Packages))
	fmt.Printf("  sum of parts (images separately)  %8.1f MiB\n", mib(parts))
	fmt.Printf("  unique content (shared blobs once) %7.1f MiB  (%.0f%% of the parts)\n", mib(payload), 100*float64(payload)/float64(parts))
	fmt.Printf("  bundle file (zstd)                %8.1f MiB  (%.0f%% of the parts)\n", mib(h.CompressedBytes), 100*float64(h.CompressedBytes)/float64(parts))
	for _, s := range m.Sections() {
		fmt.Printf("    %-9s %5d files %8.1f MiB\n", s.Name, s.Files, mib(s.Bytes))
	}
	res, err := bundles.Verify(context.Background(), path, bundles.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
	if err != nil {
		return err
	}
	fmt.Printf("  verify: %.1f MiB of content in %.2fs = %.0f MB/s (%.0f MB/s of bundle file)\n", mib(res.PayloadBytes),
		res.Duration.Seconds(), float64(res.PayloadBytes)/1e6/res.Duration.Seconds(), float64(res.CompressedBytes)/1e6/res.Duration.Seconds())
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
