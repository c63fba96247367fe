package metricsource

import (
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Target is the resource a source lists on one cluster, as that cluster's discovery serves it.
type Target struct {
	// GVR names the resource, e.g. gateway.networking.k8s.io/v1, Resource=gateways.
	GVR schema.GroupVersionResource
	// Namespaced is the resource's real scope.
	Namespaced bool
}

// Discovery is the part of client-go's discovery.DiscoveryInterface that Resolve uses.
type Discovery interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// Resolve finds the resource name and scope of c's kind on one cluster with that cluster's
// discovery: it fetches only c's group/version (never the whole API surface) and looks the kind
// up there, so irregular plurals (Ingress → ingresses, any CRD's names.plural) come out right.
// The kind matches exactly, or case-insensitively when exactly one resource does; subresources
// are ignored and the resource must support list. Nothing is cached.
//
// The scope is the one the cluster reports; spec.source.scope is not consulted, since a wrong
// declaration would otherwise silently list nothing. Discovery calls take no context: bound
// them with the client's rest.Config.Timeout.
//
// Errors wrap engine.ErrNotFound (group/version not served, kind not in it, no list verb) or
// engine.ErrUnavailable (discovery failed).
func (c *Compiled) Resolve(disc Discovery) (Target, error) {
	gv := c.GroupVersion.String()
	list, err := disc.ServerResourcesForGroupVersion(gv)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return Target{}, fmt.Errorf("resolve kind %s of %s: group version not served: %w", c.Kind, gv, engine.ErrNotFound)
		}
		return Target{}, fmt.Errorf("resolve kind %s of %s: discovery: %w: %w", c.Kind, gv, engine.ErrUnavailable, err)
	}
	var exact, folded []metav1.APIResource
	var kinds []string
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue // a subresource such as deployments/status
		}
		kinds = append(kinds, r.Kind)
		switch {
		case r.Kind == c.Kind:
			exact = append(exact, r)
		case strings.EqualFold(r.Kind, c.Kind):
			folded = append(folded, r)
		}
	}
	match := exact
	if len(match) == 0 {
		match = folded
	}
	if len(match) != 1 {
		slices.Sort(kinds)
		kinds = slices.Compact(kinds)
		if len(match) == 0 {
			return Target{}, fmt.Errorf("resolve kind %s of %s: not served (kinds served: %s): %w", c.Kind, gv, strings.Join(kinds, ", "), engine.ErrNotFound)
		}
		return Target{}, fmt.Errorf("resolve kind %s of %s: %d resources match case-insensitively: %w", c.Kind, gv, len(match), engine.ErrNotFound)
	}
	r := match[0]
	if !slices.Contains(r.Verbs, "list") {
		return Target{}, fmt.Errorf("resolve kind %s of %s: resource %s does not support list: %w", c.Kind, gv, r.Name, engine.ErrNotFound)
	}
	return Target{
		GVR:        c.GroupVersion.WithResource(r.Name),
		Namespaced: r.Namespaced,
	}, nil
}
