package build

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// chartBuilt is a packaged chart in the cache.
type chartBuilt struct {
	Name, Version string
	File          string
	SHA256        string
	Size          int64
}

// packageChart packages a chart directory the way `helm package` lays it out (<name>/... inside a .tgz), but
// reproducibly: sorted entries, fixed times and owners, no gzip timestamp.
func (b *Builder) packageChart(src *Source) (*chartBuilt, error) {
	dir := b.spec.resolve(src.Chart.Path)
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("chart source %s: %w", src.Name, err)
	}
	var meta struct{ Name, Version string }
	if err := yaml.Unmarshal(data, &meta); err != nil || meta.Name == "" || meta.Version == "" {
		return nil, fmt.Errorf("chart source %s: %s/Chart.yaml needs name and version (%v)", src.Name, src.Chart.Path, err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart source %s: %w", src.Name, err)
	}
	bw, err := b.cache.newBlob()
	if err != nil {
		return nil, err
	}
	gz, _ := gzip.NewWriterLevel(bw, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	for _, p := range files { // WalkDir visits in lexical order
		rel, _ := filepath.Rel(dir, p)
		if err := addChartFile(tw, meta.Name+"/"+filepath.ToSlash(rel), p); err != nil {
			bw.abort()
			return nil, fmt.Errorf("chart source %s: %w", src.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		bw.abort()
		return nil, err
	}
	if err := gz.Close(); err != nil {
		bw.abort()
		return nil, err
	}
	d, size, err := bw.commit()
	if err != nil {
		return nil, err
	}
	return &chartBuilt{Name: meta.Name, Version: meta.Version, File: b.cache.blobPath(d), SHA256: trimAlgo(d), Size: size}, nil
}

func addChartFile(tw *tar.Writer, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: st.Size(), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
