package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// DownOptions configures Down.
type DownOptions struct {
	// Dir is the rendered deploy directory; compose.yaml may be missing.
	Dir string
	// Project is the compose project name (the stack name), used when
	// compose.yaml is missing or has no name:.
	Project string
	// Volumes also removes the named volumes (Prometheus and Grafana data).
	Volumes bool
	// Out receives progress.
	Out io.Writer
}

// Down stops and removes the stack's containers and network, keeping its
// volumes unless o.Volumes.
func Down(ctx context.Context, o DownOptions) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	p, err := Open(ctx, o.Dir, o.Project, false)
	if err != nil {
		return err
	}
	cs, err := listDocker(ctx, p.Engine.Docker, "label="+labelProject+"="+p.Name)
	if err != nil {
		return err
	}
	if p.File != nil {
		args := []string{"down", "--remove-orphans"}
		if o.Volumes {
			args = append(args, "--volumes")
		}
		if _, err := p.compose(ctx, args...); err != nil {
			return composeError("compose down", err)
		}
	} else if err := p.downByLabel(ctx, o.Volumes); err != nil {
		return err
	}
	vols, _ := p.Volumes(ctx)
	fmt.Fprintf(o.Out, "stack %s: removed %d container(s)", p.Name, len(cs))
	switch {
	case o.Volumes:
		fmt.Fprintf(o.Out, " and its volumes\n")
	case len(vols) > 0:
		fmt.Fprintf(o.Out, "; kept volumes %s (remove them with `stackgen down --volumes`)\n", strings.Join(vols, ", "))
	default:
		fmt.Fprintln(o.Out)
	}
	return nil
}

// downByLabel removes the project's containers, networks and (optionally)
// volumes by their compose labels, for when compose.yaml is gone.
func (p *Project) downByLabel(ctx context.Context, volumes bool) error {
	label := "label=" + labelProject + "=" + p.Name
	d := p.Engine.Docker
	if out, err := run(ctx, nil, d, "ps", "-aq", "--filter", label); err != nil {
		return fmt.Errorf("list containers: %w", err)
	} else if ids := strings.Fields(string(out)); len(ids) > 0 {
		if _, err := run(ctx, nil, d, append([]string{"rm", "-f", "-v"}, ids...)...); err != nil {
			return fmt.Errorf("remove containers: %w", err)
		}
	}
	if out, err := run(ctx, nil, d, "network", "ls", "-q", "--filter", label); err == nil {
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			if _, err := run(ctx, nil, d, append([]string{"network", "rm"}, ids...)...); err != nil {
				return fmt.Errorf("remove networks: %w", err)
			}
		}
	}
	if volumes {
		if vols, err := p.Volumes(ctx); err == nil && len(vols) > 0 {
			if _, err := run(ctx, nil, d, append([]string{"volume", "rm", "-f"}, vols...)...); err != nil {
				return fmt.Errorf("remove volumes: %w", err)
			}
		}
	}
	return nil
}
