package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/stackgen/stackgen/version"
)

// DefaultStackgenImage is the image name rendered stacks use for stackgen's
// own services (exporter, demo model server, mail catcher) unless
// stackgen_image says otherwise. up never tags it: it runs those services
// from a content-tagged image instead (see ContentTag), so stacks started by
// different stackgen binaries coexist.
const DefaultStackgenImage = "stackgen:local"

// VersionLabel is the image label holding the stackgen version inside.
const VersionLabel = "io.stackgen.version"

// ContentTag is the tag of the image holding the stackgen binary at bin:
// stackgen:<version>-<first 12 hex digits of the binary's SHA-256>.
func ContentTag(bin string) (string, error) {
	sum, err := fileSHA256(bin)
	if err != nil {
		return "", fmt.Errorf("image tag: %w", err)
	}
	return "stackgen:" + tagSafe(version.Get().Short()) + "-" + sum[:12], nil
}

// tagSafe replaces the characters a Docker tag cannot hold and bounds its length.
func tagSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '-'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BuildContentImage makes sure a content-tagged image (see ContentTag) of
// stackgen exists and returns its name and what was done: from the running
// binary when it is a static Linux ELF for the engine, else built from source
// with go build, else in a golang builder stage. An existing tag is reused:
// the same tag means the same bytes.
func (e *Engine) BuildContentImage(ctx context.Context, srcHint string) (image, how string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ctxDir, err := os.MkdirTemp("", "stackgen-image-")
	if err != nil {
		return "", "", fmt.Errorf("build stackgen image: %w", err)
	}
	defer os.RemoveAll(ctxDir)
	bin := filepath.Join(ctxDir, "stackgen")
	exe, exeErr := os.Executable()
	if exeErr == nil {
		exe, _ = filepath.EvalSymlinks(exe)
	}
	switch {
	case exeErr == nil && runtime.GOOS == "linux" && StaticELF(exe, e.Arch) == nil:
		if image, err = ContentTag(exe); err != nil {
			return "", "", err
		}
		if e.ImageExists(ctx, image) {
			return image, "up to date", nil
		}
		if err := copyFile(exe, bin, 0o755); err != nil {
			return "", "", fmt.Errorf("build %s: %w", image, err)
		}
		how = "from the running binary"
	default:
		src := findModule(srcHint)
		if src == "" || !hasGo() {
			image = "stackgen:" + tagSafe(version.Get().Short()) + "-builder"
			how, err = e.buildWithGolangImage(ctx, image, src, ctxDir)
			return image, how, err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/stackgen")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+e.Arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", newError(ExitFailure, "", "build stackgen for the image (go build in %s): %v\n%s", src, err, lastLines(string(out), 20))
		}
		if image, err = ContentTag(bin); err != nil {
			return "", "", err
		}
		if e.ImageExists(ctx, image) {
			return image, "up to date", nil
		}
		how = "from source with go build (" + src + ")"
	}
	if err := writeScratchContext(ctxDir); err != nil {
		return "", "", fmt.Errorf("build %s: %w", image, err)
	}
	args := []string{"build", "-q", "-t", image, "--label", VersionLabel + "=" + version.Get().Short()}
	if _, err := run(ctx, e.buildEnv(), e.Docker, append(args, ctxDir)...); err != nil {
		return "", "", newError(ExitFailure, "", "build image %s: %v", image, err)
	}
	return image, "built " + how, nil
}

// BinaryLabel is the image label holding a digest of the stackgen binary
// inside; the image is rebuilt only when the digest changes.
const BinaryLabel = "org.stackgen.binary"

// modulePath is stackgen's Go module path, used to find its source.
const modulePath = "github.com/stackgen/stackgen"

// elfMachines maps GOARCH to the ELF machine it runs.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"s390x":   elf.EM_S390,
	"ppc64le": elf.EM_PPC64,
	"riscv64": elf.EM_RISCV,
}

// StaticELF reports whether path is a statically linked Linux ELF executable
// for goarch: an ELF file of that machine with no PT_INTERP program header
// (no dynamic loader), so it runs in a FROM scratch image. The error explains
// why not.
func StaticELF(path, goarch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[goarch]; ok && f.Machine != want {
		return fmt.Errorf("%s is built for %v, the engine runs %s", path, f.Machine, goarch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s is not an executable (%v)", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}

// imageLabel returns a label of a local image; ok is false when the image is absent.
func (e *Engine) imageLabel(ctx context.Context, image, label string) (value string, ok bool) {
	out, err := run(ctx, nil, e.Docker, "image", "inspect", "--format", fmt.Sprintf("{{index .Config.Labels %q}}", label), image)
	if err != nil {
		return "", false
	}
	v := strings.TrimSpace(string(out))
	if v == "<no value>" {
		v = ""
	}
	return v, true
}

// ImageExists reports whether image is present in the engine.
func (e *Engine) ImageExists(ctx context.Context, image string) bool {
	_, err := run(ctx, nil, e.Docker, "image", "inspect", "--format", "{{.Id}}", image)
	return err == nil
}

// BuildStackgenImage makes sure image holds the running stackgen binary (or
// one built from source), building it FROM scratch when it is absent or
// stale. In order of preference:
//  1. the running executable, when it is a static Linux ELF for the engine's
//     architecture;
//  2. `CGO_ENABLED=0 go build ./cmd/stackgen` from the module source (found
//     from srcHint or the working directory upwards) when `go` is on PATH;
//  3. a Dockerfile with a golang builder stage (needs a registry for the
//     golang image).
//
// It returns what it did, for the progress output.
func (e *Engine) BuildStackgenImage(ctx context.Context, image, srcHint string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ctxDir, err := os.MkdirTemp("", "stackgen-image-")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", image, err)
	}
	defer os.RemoveAll(ctxDir)

	bin := filepath.Join(ctxDir, "stackgen")
	how := ""
	exe, exeErr := os.Executable()
	if exeErr == nil {
		exe, _ = filepath.EvalSymlinks(exe)
	}
	if exeErr == nil && runtime.GOOS == "linux" && StaticELF(exe, e.Arch) == nil {
		if sum, err := binaryID(exe); err == nil {
			if v, ok := e.imageLabel(ctx, image, BinaryLabel); ok && v == sum {
				return "up to date", nil
			}
		}
		if err := copyFile(exe, bin, 0o755); err != nil {
			return "", fmt.Errorf("build %s: %w", image, err)
		}
		how = "from the running binary"
	} else if src := findModule(srcHint); src != "" && hasGo() {
		// Reuse the image when the running binary is unchanged: building
		// from source costs seconds even with a warm cache.
		if exeErr == nil {
			if sum, err := binaryID(exe); err == nil {
				if v, ok := e.imageLabel(ctx, image, BinaryLabel+".source"); ok && v == sum {
					return "up to date", nil
				}
			}
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/stackgen")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+e.Arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", newError(ExitFailure, "", "build stackgen for the image (go build in %s): %v\n%s", src, err, lastLines(string(out), 20))
		}
		how = "from source with go build (" + src + ")"
	} else {
		return e.buildWithGolangImage(ctx, image, findModule(srcHint), ctxDir)
	}

	sum, err := binaryID(bin)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", image, err)
	}
	if v, ok := e.imageLabel(ctx, image, BinaryLabel); ok && v == sum {
		return "up to date", nil
	}
	if err := writeScratchContext(ctxDir); err != nil {
		return "", fmt.Errorf("build %s: %w", image, err)
	}
	args := []string{"build", "-q", "-t", image, "--label", BinaryLabel + "=" + sum}
	if exeErr == nil && !strings.HasPrefix(how, "from the running") {
		if s, err := binaryID(exe); err == nil {
			args = append(args, "--label", BinaryLabel+".source="+s)
		}
	}
	if _, err := run(ctx, e.buildEnv(), e.Docker, append(args, ctxDir)...); err != nil {
		return "", newError(ExitFailure, "", "build image %s: %v", image, err)
	}
	return "built " + how, nil
}

// scratchDockerfile runs stackgen as nobody in an otherwise empty image.
const scratchDockerfile = `# stackgen's own services (exporter, demo model, mail catcher), FROM scratch.
FROM scratch
COPY rootfs/ /
COPY stackgen /stackgen
USER 65534:65534
ENTRYPOINT ["/stackgen"]
`

// writeScratchContext writes the Dockerfile and a minimal root file system
// (passwd/group with nobody, /tmp, the host's CA bundle for https upstreams)
// next to the stackgen binary in dir.
func writeScratchContext(dir string) error {
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"etc/ssl/certs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), os.ModePerm|os.ModeSticky); err != nil {
		return err
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, ca := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if err := copyFile(ca, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), 0o644); err == nil {
			break
		}
	}
	return os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(scratchDockerfile), 0o644)
}

// builderDockerfile builds stackgen in a golang stage: from the source in the
// build context, or with go install from the module proxy (%s: the version).
const builderDockerfile = `FROM golang:1.26 AS build
ENV CGO_ENABLED=0
%s
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /stackgen /stackgen
USER 65534:65534
ENTRYPOINT ["/stackgen"]
`

// buildWithGolangImage is the last resort: a multi-stage build in a golang
// image, which needs a registry.
func (e *Engine) buildWithGolangImage(ctx context.Context, image, src, tmp string) (string, error) {
	ctxDir := tmp
	var stage string
	if src != "" {
		ctxDir = src
		stage = "WORKDIR /src\nCOPY . .\nRUN go build -trimpath -o /stackgen ./cmd/stackgen"
	} else {
		version := "latest"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		stage = "RUN go install -trimpath " + modulePath + "/cmd/stackgen@" + version + " && cp /go/bin/stackgen /stackgen"
	}
	df := filepath.Join(tmp, "Dockerfile.stackgen")
	if err := os.WriteFile(df, []byte(fmt.Sprintf(builderDockerfile, stage)), 0o644); err != nil {
		return "", fmt.Errorf("build %s: %w", image, err)
	}
	if _, err := run(ctx, e.buildEnv(), e.Docker, "build", "-q", "-t", image, "-f", df, ctxDir); err != nil {
		return "", newError(ExitImageMissing,
			"stackgen is not a static Linux binary and Go is not installed, so the image is built in a golang:1.26 builder, which needs a registry.\n"+
				"Fix: build stackgen with `CGO_ENABLED=0 go build ./cmd/stackgen` on a Linux machine and run that binary, "+
				"or load a prebuilt image with `docker load -i stackgen-image.tar`.",
			"build image %s with a golang builder stage: %v", image, err)
	}
	return "built in a golang builder stage", nil
}

// findModule returns the root of stackgen's module source, searching upwards
// from hint and from the working directory; "" when not found.
func findModule(hint string) string {
	var starts []string
	if hint != "" {
		starts = append(starts, hint)
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, s := range starts {
		dir, err := filepath.Abs(s)
		if err != nil {
			continue
		}
		for {
			if isStackgenModule(filepath.Join(dir, "go.mod")) {
				if _, err := os.Stat(filepath.Join(dir, "cmd", "stackgen")); err == nil {
					return dir
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func isStackgenModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module ")), `"`) == modulePath
		}
	}
	return false
}

func hasGo() bool {
	_, err := exec.LookPath("go")
	return err == nil
}

// binaryID identifies an executable's contents cheaply: the Go build ID
// from its ELF note (derived from the build's inputs and output) when it has
// one, else a SHA-256 of the file.
func binaryID(path string) (string, error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if sec := f.Section(".note.go.buildid"); sec != nil {
			if data, err := sec.Data(); err == nil {
				if _, id, ok := strings.Cut(string(data), "Go\x00\x00"); ok {
					if id = strings.TrimRight(id, "\x00"); id != "" {
						return "go:" + strings.ReplaceAll(id, "/", "."), nil
					}
				}
			}
		}
	}
	return fileSHA256(path)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// errImageMissing builds the exit-6 error for an absent image.
func errImageMissing(image, service, pullErr string) error {
	fix := fmt.Sprintf("Load it from a machine that has it: `docker save %s -o image.tar` there, `docker load -i image.tar` here; "+
		"or change the image of %s in stack.yaml to one present locally (`docker images`).", image, service)
	switch {
	case strings.HasPrefix(image, "stackgen/prometheus:") || strings.HasPrefix(image, "stackgen/alertmanager:"):
		fix = "Build it from Debian's binaries with scripts/setup.sh (in the stackgen source), which tags stackgen/prometheus:<version> and stackgen/alertmanager:<version>; " +
			"or set prometheus.image / alerting.alertmanager_image in stack.yaml to an image you have."
	case pullErr == "":
		fix += " (pull_policy is never, so compose will not pull it.)"
	}
	msg := fmt.Sprintf("image %s (service %s) is not present locally", image, service)
	if pullErr != "" {
		msg += " and could not be pulled: " + lastLines(pullErr, 2)
	}
	return &Error{Code: ExitImageMissing, Err: errors.New(msg), Fix: fix}
}

// pruneAge is how old an unused content-tagged image must be before up
// removes it: other checkouts' and other stacks' recent builds on the same
// machine are left alone (they may be brought up again any minute), while
// images of long-gone builds do not pile up.
const pruneAge = 24 * time.Hour

// pruneImages removes the content-tagged stackgen images (label
// VersionLabel) that no container uses, in any state, and that were built
// more than pruneAge ago, except keep: each build of stackgen leaves one, and
// only the ones of running or stopped stacks are needed. docker rmi without
// -f refuses an image in use, so a container created meanwhile keeps its
// image. It returns the images removed.
func (e *Engine) pruneImages(ctx context.Context, keep string) []string {
	out, err := run(ctx, nil, e.Docker, "image", "ls", "--filter", "label="+VersionLabel, "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return nil
	}
	used := map[string]bool{keep: true}
	if cs, err := listDocker(ctx, e.Docker); err == nil {
		for _, c := range cs {
			used[c.Image] = true
		}
	}
	var removed []string
	for _, img := range strings.Fields(string(out)) {
		if used[img] || !strings.HasPrefix(img, "stackgen:") || !e.olderThan(ctx, img, pruneAge) {
			continue
		}
		if _, err := run(ctx, nil, e.Docker, "rmi", img); err == nil {
			removed = append(removed, img)
		}
	}
	return removed
}

// olderThan reports whether image was created more than age ago, from
// `docker image inspect` (the engine's RFC 3339 creation time). Anything
// that cannot be read counts as young, so it is kept.
func (e *Engine) olderThan(ctx context.Context, image string, age time.Duration) bool {
	out, err := run(ctx, nil, e.Docker, "image", "inspect", "--format", "{{json .Created}}", image)
	if err != nil {
		return false
	}
	var created time.Time
	if err := json.Unmarshal(bytes.TrimSpace(out), &created); err != nil {
		return false
	}
	return time.Since(created) > age
}
