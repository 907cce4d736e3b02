// Command mkpkg builds Vigil's .deb and .rpm packages with nfpm, from
// binaries built beforehand and the files under packaging/:
//
//	go run ./packaging/mkpkg --version $(git describe) --arch amd64 --bin dist/linux_amd64 --out dist
//
// writes dist/vigil-agent_<version>_amd64.deb and .rpm and the same for
// vigil-collector. nfpm is a library of this tool alone: the daemons
// link none of it.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

// recipe is what differs between the two packages.
type recipe struct {
	name        string // package, binary, unit and service name
	summary     string
	description string // extended description, one paragraph
	stateDir    string // created by postinst, removed on purge
	extraDirs   []string
}

var recipes = []recipe{
	{
		name:    "vigil-agent",
		summary: "Vigil monitoring agent",
		description: "The agent runs built-in system checks (CPU, memory, disks, filesystems, network, load) " +
			"and plugin checks, and streams their results over QUIC to a Vigil collector.",
		stateDir:  "/var/lib/vigil/agent",
		extraDirs: []string{"/usr/lib/vigil", "/usr/lib/vigil/plugins"},
	},
	{
		name:    "vigil-collector",
		summary: "Vigil collector: stores the results of Vigil agents",
		description: "The collector accepts check results from Vigil agents over QUIC and HTTPS, " +
			"stores them as time series and serves the query API.",
		stateDir: "/var/lib/vigil/collector",
	},
}

const (
	maintainer = "Vigil developers <vigil@vigilmon.github.io>"
	homepage   = "https://github.com/vigilmon/vigil"
)

func main() {
	version := flag.String("version", "", "version, as git describe prints it (required)")
	arch := flag.String("arch", "amd64", "GOARCH of the binaries")
	binDir := flag.String("bin", "", "directory holding the linux binaries vigil-agent and vigil-collector (required)")
	outDir := flag.String("out", "dist", "directory the packages are written to")
	root := flag.String("root", ".", "repository root (packaging/ is under it)")
	only := flag.String("only", "", "build only this package (vigil-agent or vigil-collector)")
	formats := flag.String("formats", "deb,rpm", "package formats")
	flag.Parse()
	if *version == "" || *binDir == "" {
		fmt.Fprintln(os.Stderr, "mkpkg: --version and --bin are required")
		os.Exit(2)
	}
	if err := build(*root, *binDir, *outDir, *version, *arch, *only, strings.Split(*formats, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func build(root, binDir, outDir, version, arch, only string, formats []string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "vigil-mkpkg")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	built := 0
	for _, r := range recipes {
		if only != "" && only != r.name {
			continue
		}
		built++
		for _, format := range formats {
			out := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.%s", r.name, PackageVersion(version), arch, format))
			if err := r.build(root, binDir, filepath.Join(tmp, r.name), version, arch, format, out); err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
			fmt.Println(out)
		}
	}
	if built == 0 {
		return fmt.Errorf("no package named %q", only)
	}
	return nil
}

func (r recipe) build(root, binDir, tmp, version, arch, format, out string) error {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	scripts, err := r.scripts(root, tmp)
	if err != nil {
		return err
	}
	changelog := filepath.Join(tmp, "changelog.gz")
	if err := writeChangelog(changelog, r.name, PackageVersion(version)); err != nil {
		return err
	}
	info := &nfpm.Info{
		Name:          r.name,
		Arch:          arch,
		Platform:      "linux",
		Version:       PackageVersion(version),
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "Vigil",
		Homepage:      homepage,
		Description:   r.summary + "\n" + wrap(r.description, 79), // deb: synopsis, then the body
		Overridables: nfpm.Overridables{
			Contents: r.contents(root, binDir, format, changelog, filepath.Join(tmp, "overrides")),
			Scripts:  scripts,
			// useradd, groupadd (passwd on Debian, shadow-utils on RPM
			// systems) are Priority required / always present.
			RPM: nfpm.RPM{Summary: r.summary, Group: "System Environment/Daemons", Compression: "gzip"},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	if format == "rpm" {
		info.Description = wrap(r.description, 79) // the synopsis is RPM.Summary
	}
	nfpm.WithDefaults(info)
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	return f.Close()
}

// contents lists the package's files. Everything is owned by root; the
// postinst gives group vigil read access to the config.
func (r recipe) contents(root, binDir, format, changelog, overrides string) files.Contents {
	unitDir := "/usr/lib/systemd/system"
	if format == "deb" {
		unitDir = "/lib/systemd/system" // Debian 12 and Ubuntu 22.04 and 24.04
	}
	short := strings.TrimPrefix(r.name, "vigil-")
	pkgFile := func(name string) string { return filepath.Join(root, "packaging", name) }
	c := files.Contents{
		{Source: filepath.Join(binDir, r.name), Destination: "/usr/bin/" + r.name, FileInfo: mode(0o755)},
		{Destination: "/etc/vigil", Type: files.TypeDir, FileInfo: mode(0o755)},
		{Source: pkgFile(short + ".toml"), Destination: "/etc/vigil/" + short + ".toml", Type: files.TypeConfigNoReplace, FileInfo: mode(0o640)},
		{Source: pkgFile("systemd/" + r.name + ".service"), Destination: unitDir + "/" + r.name + ".service", FileInfo: mode(0o644)},
	}
	for _, d := range r.extraDirs {
		c = append(c, &files.Content{Destination: d, Type: files.TypeDir, FileInfo: mode(0o755)})
	}
	if format == "deb" {
		doc := "/usr/share/doc/" + r.name
		c = append(c,
			&files.Content{Source: pkgFile("copyright"), Destination: doc + "/copyright", FileInfo: mode(0o644)},
			&files.Content{Source: changelog, Destination: doc + "/changelog.gz", FileInfo: mode(0o644)},
			&files.Content{Source: overrides, Destination: "/usr/share/lintian/overrides/" + r.name, FileInfo: mode(0o644)},
		)
	}
	return c
}

func mode(m os.FileMode) *files.ContentFileInfo {
	return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m}
}

// wrap breaks s into lines of at most width bytes, at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// scripts writes the maintainer scripts of packaging/scripts and the
// lintian overrides to dir, with @NAME@, @SHORT@, @STATE_DIR@ and @CONFIG@
// filled in.
func (r recipe) scripts(root, dir string) (nfpm.Scripts, error) {
	short := strings.TrimPrefix(r.name, "vigil-")
	repl := strings.NewReplacer(
		"@NAME@", r.name,
		"@SHORT@", short,
		"@STATE_DIR@", r.stateDir,
		"@CONFIG@", "/etc/vigil/"+short+".toml",
	)
	var s nfpm.Scripts
	for src, dst := range map[string]*string{
		"scripts/postinst.sh": &s.PostInstall,
		"scripts/prerm.sh":    &s.PreRemove,
		"scripts/postrm.sh":   &s.PostRemove,
		"lintian/overrides":   nil,
	} {
		b, err := os.ReadFile(filepath.Join(root, "packaging", src))
		if err != nil {
			return s, err
		}
		p := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".sh"))
		if err := os.WriteFile(p, []byte(repl.Replace(string(b))), 0o755); err != nil {
			return s, err
		}
		if dst != nil {
			*dst = p
		}
	}
	return s, nil
}

// writeChangelog writes the one-entry Debian changelog a native package
// needs (lintian: no-changelog).
func writeChangelog(path, name, version string) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.ModTime = time.Unix(0, 0)
	fmt.Fprintf(zw, "%s (%s) unstable; urgency=medium\n\n  * See %s for the changes.\n\n -- %s  %s\n",
		name, version, homepage, maintainer, time.Unix(0, 0).UTC().Format(time.RFC1123Z))
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// releaseTag is a tag git describe starts with: 1.2, 1.2.3, 1.2.3rc1.
var releaseTag = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9A-Za-z]+)*$`)

// PackageVersion turns git describe output into a version both dpkg and
// rpm order correctly: "v1.2.3" is 1.2.3, "v1.2.3-4-gabc1234-dirty" is
// 1.2.3+4.gabc1234.dirty, and a commit with no release tag before it
// ("abc1234", "abc1234-dirty") is 0.0.0+abc1234, 0.0.0+abc1234.dirty.
func PackageVersion(describe string) string {
	v := strings.TrimPrefix(describe, "v")
	base, rest, _ := strings.Cut(v, "-")
	if !releaseTag.MatchString(base) {
		base, rest = "0.0.0", v
	}
	if rest == "" {
		return base
	}
	return base + "+" + strings.ReplaceAll(rest, "-", ".")
}
