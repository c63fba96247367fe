package kube

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/kelseyhightower/envconfig"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clusterpulse/clusterpulse/engine"
)

// DefaultNamespace is the hub namespace used when NAMESPACE is not set.
const DefaultNamespace = "clusterpulse"

// protobufContentType is the wire format of core types; it decodes several times faster than
// JSON, which matters for jobs that must reach their first request in well under a second.
const protobufContentType = "application/vnd.kubernetes.protobuf"

// HubConfig is the environment of a process that reads ClusterPulse custom resources from the
// hub cluster.
type HubConfig struct {
	// Namespace is the hub namespace holding the custom resources and, by default, their
	// credentials Secrets.
	Namespace string `envconfig:"NAMESPACE" default:"clusterpulse" desc:"hub namespace of the ClusterPulse custom resources"`
	// Kubeconfig is a path (or a list of paths, like kubectl) to a kubeconfig file. When it is
	// empty the in-cluster service account configuration is used.
	Kubeconfig string `envconfig:"KUBECONFIG" desc:"kubeconfig of the hub cluster; in-cluster service account when unset"`
}

// LoadHubConfig reads HubConfig from the environment.
func LoadHubConfig() (HubConfig, error) {
	var c HubConfig
	if err := envconfig.Process("", &c); err != nil {
		return HubConfig{}, fmt.Errorf("read hub configuration: %w", err)
	}
	return c, nil
}

// RESTConfig returns the client configuration for the hub cluster: from the kubeconfig when
// one is set, else from the in-cluster service account. It names both options when neither
// works.
func (c HubConfig) RESTConfig() (*rest.Config, error) {
	if c.Kubeconfig != "" {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(c.Kubeconfig)}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("load hub kubeconfig %s: %w", c.Kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no hub cluster configuration: KUBECONFIG is not set and the in-cluster configuration is unusable: %w", err)
	}
	return cfg, nil
}

// Hub builds a Hub from the configuration.
func (c HubConfig) Hub() (*Hub, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	return NewHub(cfg, c.Namespace)
}

// HubFromEnv builds a Hub from the environment (NAMESPACE, KUBECONFIG or in-cluster).
func HubFromEnv() (*Hub, error) {
	c, err := LoadHubConfig()
	if err != nil {
		return nil, err
	}
	return c.Hub()
}

// Hub gives access to the hub cluster: the ClusterPulse custom resources in one namespace
// (dynamic client, JSON) and core objects such as credentials Secrets (typed client,
// protobuf). It holds no cache, so it is cheap to build and ready at once.
type Hub struct {
	// Namespace is the hub namespace; every custom resource is read from and patched in it.
	Namespace string
	// Dynamic reads and patches the custom resources.
	Dynamic dynamic.Interface
	// Core reads core objects such as Secrets.
	Core kubernetes.Interface
}

// NewHub returns a Hub for the cluster described by cfg. The two clients share one HTTP
// connection pool; the typed client speaks protobuf. cfg is not modified.
func NewHub(cfg *rest.Config, namespace string) (*Hub, error) {
	if cfg == nil {
		return nil, fmt.Errorf("hub client: no rest config: %w", engine.ErrInvalid)
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	c := rest.CopyConfig(cfg)
	if c.UserAgent == "" {
		c.UserAgent = userAgent()
	}
	// client-go's default of 5 QPS would throttle a job that patches the status of many CRs.
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS, c.Burst = 50, 100
	}
	c.ContentType = protobufContentType
	c.AcceptContentTypes = protobufContentType + ",application/json"

	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("hub http client: %w", err)
	}
	core, err := kubernetes.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("hub core client: %w", err)
	}
	// The dynamic client switches the content type back to JSON itself: CRs have no protobuf.
	dyn, err := dynamic.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("hub dynamic client: %w", err)
	}
	return &Hub{Namespace: namespace, Dynamic: dyn, Core: core}, nil
}

func userAgent() string { return "clusterpulse/" + engine.Version }

// apiError keeps a Kubernetes API error intact (apierrors.IsNotFound and friends still work)
// and adds the engine error kind, so that each edge can map the kind once.
type apiError struct {
	kind error
	err  error
}

func (e *apiError) Error() string   { return e.err.Error() }
func (e *apiError) Unwrap() []error { return []error{e.kind, e.err} }

// classify attaches the engine error kind to a Kubernetes API status error. Other errors, such
// as transport errors, are returned unchanged.
func classify(err error) error {
	var kind error
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		kind = engine.ErrNotFound
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		kind = engine.ErrForbidden
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		kind = engine.ErrInvalid
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsServiceUnavailable(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err):
		kind = engine.ErrUnavailable
	default:
		return err
	}
	if errors.Is(err, kind) {
		return err
	}
	return &apiError{kind: kind, err: err}
}
