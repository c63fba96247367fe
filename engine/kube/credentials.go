package kube

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Keys of a ClusterConnection credentials Secret.
const (
	// SecretKeyToken holds the bearer token (required).
	SecretKeyToken = "token"
	// SecretKeyCA holds the PEM CA bundle of the cluster's API server (optional; without it the
	// server certificate is verified against the system roots).
	SecretKeyCA = "ca.crt"
)

// Client settings for managed clusters (the original's values).
const (
	// ClusterRequestTimeout bounds every single request to a managed cluster.
	ClusterRequestTimeout = 30 * time.Second
	// ClusterQPS and ClusterBurst rate-limit the client of one managed cluster.
	ClusterQPS   = 100
	ClusterBurst = 200
)

// RESTConfig returns the client configuration for the managed cluster of cc: its endpoint and
// the token (and CA) from the Secret named by spec.credentialsRef (whose namespace defaults to
// the namespace of cc). A missing Secret is an ErrNotFound error, a Secret without a usable
// token or an invalid endpoint an ErrInvalid error.
func (h *Hub) RESTConfig(ctx context.Context, cc *ClusterConnection) (*rest.Config, error) {
	ref := cc.Spec.CredentialsRef
	if ref.Name == "" {
		return nil, fmt.Errorf("cluster connection %q: spec.credentialsRef.name is empty: %w", cc.Name, engine.ErrInvalid)
	}
	ns := ref.Namespace
	if ns == "" {
		ns = cc.Namespace
	}
	if ns == "" {
		ns = h.Namespace
	}
	secret, err := h.Core.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster connection %q: get credentials secret %s/%s: %w", cc.Name, ns, ref.Name, classify(err))
	}
	cfg, err := RESTConfigFromSecret(cc.Spec.Endpoint, secret, cc.Spec.InsecureSkipTLSVerify)
	if err != nil {
		return nil, fmt.Errorf("cluster connection %q: %w", cc.Name, err)
	}
	return cfg, nil
}

// RESTConfigFromSecret builds the client configuration for a managed cluster at endpoint (an
// https URL) from a credentials Secret: key "token" (required, surrounding whitespace
// trimmed) and key "ca.crt" (optional PEM bundle).
//
// TLS is verified unless insecure is true: against ca.crt when present, else against the
// system roots — never silently skipped, unlike the original. When insecure is true the
// server certificate is not verified at all and ca.crt is ignored (client-go refuses the two
// together).
//
// The configuration asks for protobuf (typed clients use it; the dynamic client switches to
// JSON by itself), a 30 s request timeout, QPS 100 and burst 200.
func RESTConfigFromSecret(endpoint string, secret *corev1.Secret, insecure bool) (*rest.Config, error) {
	if secret == nil {
		return nil, fmt.Errorf("no credentials secret: %w", engine.ErrInvalid)
	}
	host, err := validateEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(secret.Data[SecretKeyToken]))
	if token == "" {
		return nil, fmt.Errorf("secret %s/%s: key %q is missing or empty: %w", secret.Namespace, secret.Name, SecretKeyToken, engine.ErrInvalid)
	}
	cfg := &rest.Config{
		Host:        host,
		BearerToken: token,
		Timeout:     ClusterRequestTimeout,
		QPS:         ClusterQPS,
		Burst:       ClusterBurst,
		UserAgent:   userAgent(),
	}
	cfg.ContentType = protobufContentType
	cfg.AcceptContentTypes = protobufContentType + ",application/json"
	if insecure {
		cfg.TLSClientConfig.Insecure = true
		return cfg, nil
	}
	if ca := secret.Data[SecretKeyCA]; len(strings.TrimSpace(string(ca))) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("secret %s/%s: key %q holds no PEM certificate: %w", secret.Namespace, secret.Name, SecretKeyCA, engine.ErrInvalid)
		}
		cfg.TLSClientConfig.CAData = ca
	}
	return cfg, nil
}

// validateEndpoint accepts an absolute https URL with a host and an optional path (API
// servers behind a proxy such as Rancher live under a path). Plain http is refused: the
// bearer token would travel in clear text.
func validateEndpoint(endpoint string) (string, error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "", fmt.Errorf("endpoint is empty: %w", engine.ErrInvalid)
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("endpoint is not a URL (%v): %w", err, engine.ErrInvalid)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("endpoint %q: scheme must be https: %w", endpoint, engine.ErrInvalid)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("endpoint %q has no host: %w", endpoint, engine.ErrInvalid)
	case u.User != nil:
		return "", fmt.Errorf("endpoint %q must not carry user information: %w", endpoint, engine.ErrInvalid)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("endpoint %q must not have a query or fragment: %w", endpoint, engine.ErrInvalid)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
