package kubernetes

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

// TestPodContainersWork runs the demo example's rendered pod with the real
// dockerd the way a kubelet would: every container of the Deployment, with
// its command, args and env, sharing one network namespace (the first
// container owns it, as the pause container does). Each readiness probe's
// path and port must answer, and a prediction through the exporter port is
// answered and counted in the exporter's /metrics — so the sidecar wiring
// (upstream on 127.0.0.1, ports, probes) works, not just validates.
func TestPodContainersWork(t *testing.T) {
	docker := testtool.Path(t, "install Docker", "docker")
	if out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		testtool.Missing(t, "no Docker engine: "+strings.TrimSpace(string(out)))
	}
	s := loadExample(t, "demo")
	files := render(t, s)
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(files[s.Models[0].Name+"-deployment.yaml"], &d); err != nil {
		t.Fatal(err)
	}
	image := testImage(t, docker)
	id := randomID(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dockerRun := func(args ...string) string {
		out, err := exec.CommandContext(ctx, docker, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	pod := d.Spec.Template.Spec
	var owner string
	for i, c := range pod.Containers {
		name := "stackgen-kubetest-" + id + "-" + c.Name
		args := []string{"run", "-d", "--name", name, "--label", "io.stackgen.test=kubernetes"}
		if i == 0 {
			owner = name
			// Ports are published by the network namespace's owner, as a pod's are.
			for _, c := range pod.Containers {
				for _, p := range c.Ports {
					args = append(args, "-p", "127.0.0.1::"+strconv.Itoa(int(p.ContainerPort)))
				}
			}
		} else {
			args = append(args, "--network", "container:"+owner)
		}
		t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", name).Run() })
		for _, e := range c.Env {
			args = append(args, "-e", e.Name+"="+e.Value)
		}
		for _, vm := range c.VolumeMounts {
			args = append(args, "-v", configMapMount(t, files, pod, vm))
		}
		args = append(args, "--entrypoint", c.Command[0], image)
		args = append(args, c.Command[1:]...)
		dockerRun(append(args, c.Args...)...)
	}

	// Every readiness probe answers (the stackgen image has no shell or curl:
	// its own healthcheck command does the HTTP GET, inside the pod's network).
	probe := func(port int32, path string) error {
		out, err := exec.CommandContext(ctx, docker, "exec", owner, "/stackgen", "healthcheck",
			"http://127.0.0.1:"+strconv.Itoa(int(port))+path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	for _, c := range pod.Containers {
		p := c.ReadinessProbe
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("container %s has no HTTP readiness probe", c.Name)
		}
		port := containerPort(t, c, p.HTTPGet.Port.StrVal)
		var err error
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if err = probe(port, p.HTTPGet.Path); err == nil {
				break
			}
		}
		if err != nil {
			logs, _ := exec.Command(docker, "logs", "stackgen-kubetest-"+id+"-"+c.Name).CombinedOutput()
			t.Fatalf("readiness probe of %s (GET :%d%s) never passed: %v\n%s", c.Name, port, p.HTTPGet.Path, err, logs)
		}
	}
	// Negative control: a path the servers do not serve fails the same check.
	if err := probe(containerPort(t, pod.Containers[0], PortModel), "/no-such-probe-path"); err == nil {
		t.Error("a probe of an unknown path passed: the probe check cannot fail")
	}

	// A prediction through the exporter port (the Service's entry point).
	hostPort := dockerRun("port", owner, strconv.Itoa(int(containerPort(t, pod.Containers[1], PortExporter))))
	base := "http://" + strings.TrimSpace(strings.Split(hostPort, "\n")[0])
	example, err := exec.CommandContext(ctx, docker, "exec", owner, "/stackgen", "model", "example").Output()
	if err != nil {
		t.Fatalf("model example: %v", err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(base+"/predict", "application/json", bytes.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /predict: %s: %s", resp.Status, body)
	}
	resp, err = client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	var predictions float64
	if f := families["http_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "/predict" {
					predictions += m.GetCounter().GetValue()
				}
			}
		}
	}
	if predictions != 1 {
		t.Errorf("http_requests_total{route=\"/predict\"} = %v, want 1", predictions)
	}
	if s.Models[0].DriftEnabled() {
		// The exporter read the baseline mounted from its ConfigMap: the
		// example row was counted into a bin of every feature.
		var rows float64
		for _, m := range families[stack.MetricFeatureBin].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == stack.LabelFeature && l.GetValue() == s.Models[0].Drift.Baseline.Features[0].Name {
					rows += m.GetCounter().GetValue()
				}
			}
		}
		if rows < 1 {
			t.Errorf("%s{feature=%q} sums to %v after a prediction; the baseline did not reach the exporter", stack.MetricFeatureBin, s.Models[0].Drift.Baseline.Features[0].Name, rows)
		}
	}
}

// configMapMount makes a ConfigMap volume mount of the pod docker-runnable:
// the rendered ConfigMap's data written to files, bind-mounted read-only
// (a subPath mount as the one file, as the kubelet does).
func configMapMount(t *testing.T, files map[string][]byte, pod corev1.PodSpec, vm corev1.VolumeMount) string {
	t.Helper()
	var cmName string
	for _, v := range pod.Volumes {
		if v.Name == vm.Name && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	if cmName == "" {
		t.Fatalf("volume mount %s: no ConfigMap volume of that name", vm.Name)
	}
	var data map[string]string
	for name, content := range files {
		if !strings.HasSuffix(name, "-configmap.yaml") {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(content, &cm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cm.Name == cmName {
			data = cm.Data
		}
	}
	if data == nil {
		t.Fatalf("ConfigMap %s is not rendered", cmName)
	}
	dir := filepath.Join(t.TempDir(), vm.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := dir
	if vm.SubPath != "" {
		if _, ok := data[vm.SubPath]; !ok {
			t.Fatalf("ConfigMap %s has no key %s", cmName, vm.SubPath)
		}
		src = filepath.Join(dir, vm.SubPath)
	}
	return src + ":" + vm.MountPath + ":ro"
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

// testImage builds this checkout's stackgen into a scratch image (what the
// stackgen image holds) and removes it when the test ends.
func testImage(t *testing.T, docker string) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "stackgen"), "../cmd/stackgen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY stackgen /stackgen\nUSER 65534:65534\nENTRYPOINT [\"/stackgen\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "stackgen-kubetest:" + randomID(t)
	cmd := exec.Command(docker, "build", "-q", "-t", image, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "-f", image).Run() })
	return image
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
