// Package build makes berth bundles from a spec (bundles/specs/*.yaml): Go commands compiled from the module proxy at
// pinned versions (with ldflags, CGO setting, and replacements such as Kubernetes' staging modules), Debian packages
// resolved with every dependency a baseline host lacks (from the build machine's apt sources), local files,
// images pulled from registries or assembled from built binaries, files and unpacked .debs, and Helm charts.
//
// Everything expensive is cached under ~/.cache/berth/bundle, keyed by its inputs (module, version, ldflags, Go
// version, package versions, ...), so a rebuild of an unchanged spec only rewrites the archive. Outputs are
// reproducible: fixed times and owners in every tar, sorted entries, no timestamps in images; two builds of one
// spec give identical file and image digests, and identical bytes when the build time is fixed.
//
//	res, err := build.New(build.Options{Spec: "bundles/specs/lab-v1.31.yaml", Output: "lab.tar", SignKey: key}).Run(ctx)
package build
