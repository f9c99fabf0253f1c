package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/bundle"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

func init() { register(newBundleCmd) }

func newBundleCmd() *cobra.Command {
	var (
		file, out, images string
		data              bool
	)
	c := &cobra.Command{
		Use:   "bundle [-f stack.yaml] -o NAME.stackgen.tgz [--images local|all|none] [--data]",
		Short: "Write one shareable archive with the stack, its rendered files, local files and images",
		Long: `bundle renders the stack (as render does) and writes one deterministic
archive holding stack.yaml, the rendered deploy folder, the models' build and
model_base_path folders, and the images as 'docker save' writes them: with
--images local (the default) the images stackgen builds (its own, content
tagged, and the models' build images), with --images all every image the
compose file names (the receiver then needs no registry), with none no image.
With --data it also copies the stack's data volumes (Prometheus, Grafana,
Alertmanager), each service stopped while copied and started again, so the
receiver's dashboards show the sender's history.

A manifest (the archive's first entry) lists the format version, the
stackgen version, every file and image with size and SHA-256 (images also by
image ID), and the secrets the receiver must provide. Secrets never go in:
smtp.password_file is left out and no environment value is written.

The same inputs give the same bytes. 'stackgen up --bundle FILE' verifies
and runs a bundle; 'stackgen bundle inspect FILE' lists it.

Exit codes: 0 written; 1 failure; 2 stack.yaml invalid or a path the bundle
cannot carry (nothing written); 3 no Docker engine; 6 an image missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd)
			defer stop()
			return writeBundle(ctx, cmd.ErrOrStderr(), cmd.OutOrStdout(), file, out, images, data)
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&out, "output", "o", "", "archive to write (default: NAME.stackgen.tgz, NAME the stack's)")
	c.Flags().StringVar(&images, "images", bundle.ImagesLocal, "images to include: local (built by stackgen), all (every image of the stack), none")
	c.Flags().BoolVar(&data, "data", false, "also copy the data volumes (Prometheus, Grafana, Alertmanager), each service stopped while copied and started again")
	c.AddCommand(newBundleInspectCmd())
	return c
}

func writeBundle(ctx context.Context, stderr, stdout io.Writer, file, out, images string, data bool) error {
	if images != bundle.ImagesLocal && images != bundle.ImagesAll && images != bundle.ImagesNone {
		return exitf(exitInvalid, "--images %q: use local, all or none", images)
	}
	if data && images == bundle.ImagesNone {
		return exitf(exitInvalid, "--data needs --images local or all: the receiver restores the volumes with an image of the bundle")
	}
	start := time.Now()
	s, deployDir, err := loadAndRender(file, "")
	if err != nil {
		return err
	}
	if out == "" {
		out = s.Name + ".stackgen.tgz"
	}
	files, err := bundle.StackFiles(s, deployDir)
	if err != nil {
		return exitf(exitInvalid, "%s: %v; nothing was written", file, err)
	}
	stackFile, err := bundle.EntryName(s, s.File)
	if err != nil {
		return err
	}
	deployName, err := bundle.EntryName(s, deployDir)
	if err != nil {
		return err
	}
	cf, err := runner.LoadComposeFile(filepath.Join(deployDir, "compose.yaml"), s.Name)
	if err != nil {
		return err
	}
	opts := bundle.Options{Stack: s.Name, StackFile: stackFile, DeployDir: deployName, Stackgen: version.Get().Short(),
		Files: files, Secrets: bundle.Secrets(s, cf), Progress: stderr, Meter: meter(stderr)}
	if images != bundle.ImagesNone {
		ims, err := saveImages(ctx, stderr, s, cf, images, filepath.Dir(out))
		defer bundle.Remove(ims)
		if err != nil {
			return err
		}
		opts.Images = ims
		if data {
			if len(ims) == 0 {
				return exitf(exitInvalid, "--data: the bundle holds no image to restore the volumes with; use --images all")
			}
			helper := ims[0].Image.ID
			for _, im := range ims {
				for _, tag := range im.Image.Tags {
					if strings.HasPrefix(tag, "stackgen:") {
						helper = im.Image.ID
					}
				}
			}
			opts.HelperImage = helper
			vols, err := saveVolumes(ctx, stderr, cf, helper, filepath.Dir(out))
			defer bundle.RemoveVolumes(vols)
			if err != nil {
				return err
			}
			opts.Volumes = vols
		}
	}
	m, err := bundle.WriteFile(out, opts)
	if err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s: %d files, %d images, %d volumes, %s before compression) in %.1fs\n",
		out, bundle.HumanSize(st.Size()), len(m.Files), len(m.Images), len(m.Volumes), bundle.HumanSize(m.TotalSize()), time.Since(start).Seconds())
	for _, sec := range m.Secrets {
		fmt.Fprintf(stdout, "  the receiver must provide %s\n", secretName(sec))
	}
	return nil
}

// saveImages spools the stack's images (mode local or all) with docker
// save, one tarball per image ID, into dir.
func saveImages(ctx context.Context, stderr io.Writer, s *stack.Stack, cf *runner.ComposeFile, mode, dir string) ([]bundle.ImageSource, error) {
	e, err := runner.DetectEngine(ctx)
	if err != nil {
		return nil, runnerExit(err)
	}
	sgImage := ""
	if s.StackgenImage == "" || s.StackgenImage == runner.DefaultStackgenImage {
		img, how, err := e.BuildContentImage(ctx, s.Dir())
		if err != nil {
			return nil, runnerExit(err)
		}
		fmt.Fprintf(stderr, "  image %s: %s\n", img, how)
		sgImage = img
	}
	refs, err := bundle.ImageRefs(cf, mode, sgImage)
	if err != nil {
		return nil, exitf(exitInvalid, "%v", err)
	}
	d := bundle.Docker{Path: e.Docker}
	byID := map[string][]string{}
	var ids []string
	for _, ref := range refs {
		id, ok, err := d.Inspect(ctx, ref)
		if err != nil {
			return nil, err
		}
		if !ok {
			if built := builtByCompose(cf, ref); built {
				fmt.Fprintf(stderr, "  image %s is not built yet: the receiver's up builds it from the bundled build folder\n", ref)
				continue
			}
			return nil, exitf(runner.ExitImageMissing, "image %s is not present locally, so it cannot be bundled; pull or build it first, or bundle with --images local", ref)
		}
		if _, dup := byID[id]; !dup {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], ref)
	}
	var out []bundle.ImageSource
	for _, id := range ids {
		t := time.Now()
		im, err := d.Save(ctx, dir, id, byID[id])
		if err != nil {
			return out, err
		}
		out = append(out, im)
		fmt.Fprintf(stderr, "  saved %s (%s, %.1fs)\n", strings.Join(byID[id], ", "), bundle.HumanSize(im.Image.Size), time.Since(t).Seconds())
	}
	return out, nil
}

// saveVolumes copies the stack's named volumes (see bundle.SaveVolumes).
func saveVolumes(ctx context.Context, stderr io.Writer, cf *runner.ComposeFile, helperImage, dir string) ([]bundle.VolumeSource, error) {
	e, err := runner.DetectEngine(ctx)
	if err != nil {
		return nil, runnerExit(err)
	}
	return bundle.Docker{Path: e.Docker}.SaveVolumes(ctx, cf, helperImage, dir, stderr)
}

func builtByCompose(cf *runner.ComposeFile, ref string) bool {
	for _, svc := range cf.Services {
		if svc.Image == ref && svc.HasBuild {
			return true
		}
	}
	return false
}

func secretName(s bundle.Secret) string {
	if s.Env != "" {
		return "$" + s.Env + " (" + s.Why + ")"
	}
	return "the file " + s.File + " (" + s.Why + ")"
}

func newBundleInspectCmd() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Verify a bundle and list its files, images, sizes and the secrets it needs",
		Long: `inspect reads the bundle once, verifying every entry against the manifest
(as up --bundle does before anything else), then lists the files and images
with their sizes and the secrets the receiver must provide.

Exit codes: 0 valid; 2 not a valid bundle (tampered, truncated, foreign).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, err := bundle.VerifyWith(args[0], meter(cmd.ErrOrStderr()))
			if err != nil {
				return bundleExit(err)
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			fmt.Fprintf(w, "bundle %s: stack %s, written by stackgen %s (format %d), verified\n", args[0], m.Stack, m.Stackgen, m.FormatVersion)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "FILES (%d)\tSIZE\tSHA-256\n", len(m.Files))
			for _, f := range m.Files {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.TrimPrefix(f.Path, bundle.StackPrefix), bundle.HumanSize(f.Size), f.SHA256[:12])
			}
			fmt.Fprintf(tw, "IMAGES (%d)\tSIZE\tID\n", len(m.Images))
			for _, im := range m.Images {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.Join(im.Tags, ", "), bundle.HumanSize(im.Size), im.ID[:19])
			}
			if len(m.Volumes) > 0 {
				fmt.Fprintf(tw, "VOLUMES (%d)\tSIZE\tSHA-256\n", len(m.Volumes))
			}
			for _, v := range m.Volumes {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, bundle.HumanSize(v.Size), v.SHA256[:12])
			}
			tw.Flush()
			fmt.Fprintf(w, "total %s\n", bundle.HumanSize(m.TotalSize()))
			if len(m.Secrets) == 0 {
				fmt.Fprintln(w, "secrets: none needed")
			}
			for _, s := range m.Secrets {
				fmt.Fprintf(w, "secret: %s\n", secretName(s))
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "output", "text", "text or json (the manifest)")
	return c
}

// meter is a progress display on w when it is a terminal, else nil.
func meter(w io.Writer) bundle.Progress {
	if isTerminal(w) {
		return &bundle.TermProgress{W: w}
	}
	return nil
}

// bundleExit maps a refused bundle to exit 2.
func bundleExit(err error) error {
	var ie *bundle.InvalidError
	if errors.As(err, &ie) {
		return &ExitError{Code: exitInvalid, Err: fmt.Errorf("%w; nothing was extracted, loaded or started", err)}
	}
	return err
}

// openBundle verifies the bundle at path, checks the extraction folder and
// the secrets, then extracts it (into out, default: a folder named after the
// stack beside the archive) and loads its images. It returns the extracted
// stack file. Nothing is extracted or loaded when a check fails (exit 2).
func openBundle(ctx context.Context, stderr io.Writer, path, out string) (string, error) {
	t := time.Now()
	m, sum, err := bundle.VerifyWith(path, meter(stderr))
	if err != nil {
		return "", bundleExit(err)
	}
	fmt.Fprintf(stderr, "bundle %s: stack %s from stackgen %s, %d files and %d images verified (%s, %.1fs)\n",
		path, m.Stack, m.Stackgen, len(m.Files), len(m.Images), bundle.HumanSize(m.TotalSize()), time.Since(t).Seconds())
	dir := out
	if dir == "" {
		dir = filepath.Join(filepath.Dir(path), m.Stack)
	}
	if _, err := bundle.CheckTarget(dir, sum); err != nil {
		return "", &ExitError{Code: exitInvalid, Err: fmt.Errorf("%w; nothing was extracted, loaded or started", err)}
	}
	if miss := bundle.MissingSecrets(m, os.Getenv); len(miss) > 0 {
		var lines []string
		for _, s := range miss {
			lines = append(lines, "  export "+s.Env+"=…   ("+s.Why+")")
		}
		return "", exitf(exitInvalid, "bundle %s needs secrets that are not set; nothing was extracted, loaded or started:\n%s", path, strings.Join(lines, "\n"))
	}
	// Secret files live in the extraction folder: when one is missing,
	// extract the stack files only (nothing loaded or started) and say
	// where to write it; the next up --bundle reuses the folder.
	var missingFiles []string
	for _, s := range m.Secrets {
		if s.File == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(s.File))); err != nil || st.Size() == 0 {
			missingFiles = append(missingFiles, "  "+filepath.Join(dir, filepath.FromSlash(s.File))+"   ("+s.Why+")")
		}
	}
	if len(missingFiles) > 0 {
		if _, err := bundle.Extract(ctx, path, bundle.ExtractOptions{Dir: dir, ManifestSHA256: sum}); err != nil {
			return "", bundleExit(err)
		}
		return "", exitf(exitInvalid, "bundle %s needs secret files; its stack files are extracted into %s, nothing was loaded or started. Write:\n%s\nthen run `stackgen up --bundle %s` again (the folder is reused)",
			path, dir, strings.Join(missingFiles, "\n"), path)
	}
	var (
		loader   bundle.Loader
		restorer bundle.Restorer
	)
	if len(m.Images) > 0 || len(m.Volumes) > 0 {
		e, err := runner.DetectEngine(ctx)
		if err != nil {
			return "", runnerExit(err)
		}
		loader, restorer = bundle.Docker{Path: e.Docker}, bundle.Docker{Path: e.Docker}
	}
	t = time.Now()
	if _, err := bundle.Extract(ctx, path, bundle.ExtractOptions{Dir: dir, ManifestSHA256: sum, Loader: loader, Restorer: restorer, Progress: stderr, Meter: meter(stderr)}); err != nil {
		return "", bundleExit(err)
	}
	fmt.Fprintf(stderr, "  extracted into %s, %d images loaded or already present (%.1fs)\n", dir, len(m.Images), time.Since(t).Seconds())
	return filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(m.StackFile, bundle.StackPrefix))), nil
}
