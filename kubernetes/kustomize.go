package kubernetes

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/stackgen/stackgen/stack"
)

// Kustomization is the subset of kustomize's Kustomization (kustomize.config.k8s.io/v1beta1)
// stackgen writes. sigs.k8s.io/kustomize/api/types would bring kustomize's
// kyaml and its dependencies into the stackgen binary for three fields.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

func kustomization(s *stack.Stack, files []string) ([]byte, error) {
	k := Kustomization{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Namespace:  s.Kubernetes.Namespace,
		Resources:  files,
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %s: %w", KustomizationFile, err)
	}
	return append([]byte(Header), data...), nil
}
