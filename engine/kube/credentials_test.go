package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// selfSignedPEM returns a freshly generated self-signed CA certificate in PEM.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// restFields is the part of a rest.Config that RESTConfigFromSecret decides.
type restFields struct {
	Host, BearerToken, UserAgent, ContentType, AcceptContentTypes string
	Timeout                                                       time.Duration
	QPS                                                           float32
	Burst                                                         int
	Insecure                                                      bool
	CAData                                                        []byte
}

func fieldsOf(c *rest.Config) restFields {
	return restFields{
		Host: c.Host, BearerToken: c.BearerToken, UserAgent: c.UserAgent, ContentType: c.ContentType,
		AcceptContentTypes: c.AcceptContentTypes, Timeout: c.Timeout, QPS: c.QPS, Burst: c.Burst,
		Insecure: c.TLSClientConfig.Insecure, CAData: c.TLSClientConfig.CAData,
	}
}

func TestRESTConfigFromSecret(t *testing.T) {
	ca := selfSignedPEM(t)
	secret := func(data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "clusterpulse", Name: "prod-creds"}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	base := restFields{
		Host: "https://api.prod.example.com:6443", BearerToken: "tok", UserAgent: "clusterpulse/" + engine.Version,
		ContentType: "application/vnd.kubernetes.protobuf", AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		Timeout: 30 * time.Second, QPS: 100, Burst: 200,
	}
	with := func(f func(*restFields)) restFields { r := base; f(&r); return r }

	tests := []struct {
		name     string
		endpoint string
		secret   *corev1.Secret
		insecure bool
		want     restFields
		wantErr  string // substring; the error must also wrap engine.ErrInvalid
	}{
		{
			name:     "token and CA",
			endpoint: "https://api.prod.example.com:6443",
			secret:   secret(map[string]string{"token": "tok", "ca.crt": string(ca)}),
			want:     with(func(r *restFields) { r.CAData = ca }),
		},
		{
			name:     "token trimmed, no CA verifies against system roots",
			endpoint: "https://api.prod.example.com:6443/",
			secret:   secret(map[string]string{"token": "  tok\n"}),
			want:     base,
		},
		{
			name:     "blank CA counts as absent",
			endpoint: "https://api.prod.example.com:6443",
			secret:   secret(map[string]string{"token": "tok", "ca.crt": "\n"}),
			want:     base,
		},
		{
			name:     "explicit insecure without CA",
			endpoint: "https://api.prod.example.com:6443",
			secret:   secret(map[string]string{"token": "tok"}),
			insecure: true,
			want:     with(func(r *restFields) { r.Insecure = true }),
		},
		{
			name:     "explicit insecure ignores the CA",
			endpoint: "https://api.prod.example.com:6443",
			secret:   secret(map[string]string{"token": "tok", "ca.crt": string(ca)}),
			insecure: true,
			want:     with(func(r *restFields) { r.Insecure = true }),
		},
		{
			name:     "endpoint with a path (proxy)",
			endpoint: "https://rancher.example.com/k8s/clusters/c-m-1",
			secret:   secret(map[string]string{"token": "tok"}),
			want:     with(func(r *restFields) { r.Host = "https://rancher.example.com/k8s/clusters/c-m-1" }),
		},
		{name: "no token key", endpoint: "https://h", secret: secret(map[string]string{"ca.crt": string(ca)}), wantErr: `clusterpulse/prod-creds: key "token" is missing or empty`},
		{name: "whitespace token", endpoint: "https://h", secret: secret(map[string]string{"token": " \n"}), wantErr: `key "token" is missing or empty`},
		{name: "CA not PEM", endpoint: "https://h", secret: secret(map[string]string{"token": "t", "ca.crt": "not a cert"}), wantErr: `key "ca.crt" holds no PEM certificate`},
		{name: "nil secret", endpoint: "https://h", wantErr: "no credentials secret"},
		{name: "empty endpoint", endpoint: " ", secret: secret(map[string]string{"token": "t"}), wantErr: "endpoint is empty"},
		{name: "plain http", endpoint: "http://api.example.com:6443", secret: secret(map[string]string{"token": "t"}), wantErr: "scheme must be https"},
		{name: "no scheme", endpoint: "api.example.com", secret: secret(map[string]string{"token": "t"}), wantErr: "scheme must be https"},
		{name: "host and port without scheme", endpoint: "api.example.com:6443", secret: secret(map[string]string{"token": "t"}), wantErr: "endpoint"},
		{name: "no host", endpoint: "https://", secret: secret(map[string]string{"token": "t"}), wantErr: "has no host"},
		{name: "user info", endpoint: "https://u:p@api.example.com", secret: secret(map[string]string{"token": "t"}), wantErr: "user information"},
		{name: "query", endpoint: "https://api.example.com?x=1", secret: secret(map[string]string{"token": "t"}), wantErr: "query or fragment"},
		{name: "bad port", endpoint: "https://api.example.com:port", secret: secret(map[string]string{"token": "t"}), wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RESTConfigFromSecret(tt.endpoint, tt.secret, tt.insecure)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("RESTConfigFromSecret() = %+v, want error containing %q", fieldsOf(got), tt.wantErr)
				}
				if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RESTConfigFromSecret() error = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RESTConfigFromSecret() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, fieldsOf(got)); diff != "" {
				t.Errorf("RESTConfigFromSecret() mismatch (-want +got):\n%s", diff)
			}
			// The config must be usable by client-go as it is.
			if _, err := kubernetes.NewForConfig(got); err != nil {
				t.Errorf("kubernetes.NewForConfig() error = %v", err)
			}
		})
	}
}

func TestRESTConfigRequiresCredentialsRefName(t *testing.T) {
	h := &Hub{Namespace: "clusterpulse"} // no clients: the check must come before any request
	cc := &ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "clusterpulse"}, Spec: ClusterConnectionSpec{Endpoint: "https://h"}}
	_, err := h.RESTConfig(context.Background(), cc)
	if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "credentialsRef.name") {
		t.Fatalf("RESTConfig() error = %v, want ErrInvalid naming credentialsRef.name", err)
	}
}

// credentialsFixture is a ServiceAccount that may list namespaces (and nothing else), with a
// fresh TokenRequest token.
type credentialsFixture struct {
	kube  *testenv.Kube
	hub   *Hub
	token string
	ca    []byte
	url   string
}

func newCredentialsFixture(t *testing.T) *credentialsFixture {
	t.Helper()
	k := testenv.NewKube(t)
	url := os.Getenv(testenv.EnvKubeURL)
	caFile := os.Getenv(testenv.EnvKubeCAFile)
	if url == "" || caFile == "" {
		t.Fatalf("%s and %s must be set with %s", testenv.EnvKubeURL, testenv.EnvKubeCAFile, testenv.EnvKubeconfig)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	ctx := context.Background()
	name := testenv.Name(t)
	cs := k.Client
	if _, err := cs.CoreV1().ServiceAccounts(k.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account: %v", err)
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster role: %v", err)
	}
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: k.Namespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster role binding: %v", err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	exp := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts(k.Namespace).CreateToken(ctx, "reader",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	h, err := NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatalf("NewHub() error = %v", err)
	}
	return &credentialsFixture{kube: k, hub: h, token: tr.Status.Token, ca: ca, url: url}
}

// secret creates a credentials Secret in the test namespace.
func (f *credentialsFixture) secret(t *testing.T, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	if _, err := f.kube.Client.CoreV1().Secrets(f.kube.Namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
}

func (f *credentialsFixture) connection(secretName string, insecure bool) *ClusterConnection {
	return &ClusterConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "managed", Namespace: f.kube.Namespace},
		Spec: ClusterConnectionSpec{
			Endpoint:              f.url,
			CredentialsRef:        CredentialsRef{Name: secretName},
			InsecureSkipTLSVerify: insecure,
		},
	}
}

func TestRESTConfigOnAPIServer(t *testing.T) {
	f := newCredentialsFixture(t)
	ctx := context.Background()
	f.secret(t, "with-ca", map[string][]byte{"token": []byte(f.token + "\n"), "ca.crt": f.ca})
	f.secret(t, "without-ca", map[string][]byte{"token": []byte(f.token)})
	f.secret(t, "without-token", map[string][]byte{"ca.crt": f.ca})

	listNamespaces := func(t *testing.T, cfg *rest.Config) error {
		t.Helper()
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		_, err = cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
		return err
	}

	t.Run("token and CA: the service account's own permissions", func(t *testing.T) {
		cfg, err := f.hub.RESTConfig(ctx, f.connection("with-ca", false))
		if err != nil {
			t.Fatalf("RESTConfig() error = %v", err)
		}
		if err := listNamespaces(t, cfg); err != nil {
			t.Fatalf("list namespaces with the service account token: %v", err)
		}
		cs, _ := kubernetes.NewForConfig(cfg)
		_, err = cs.CoreV1().Secrets(f.kube.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("list secrets with the service account token: error = %v, want 403 Forbidden", err)
		}
	})

	t.Run("no CA: verified against system roots, so the self-signed server is refused", func(t *testing.T) {
		cfg, err := f.hub.RESTConfig(ctx, f.connection("without-ca", false))
		if err != nil {
			t.Fatalf("RESTConfig() error = %v", err)
		}
		err = listNamespaces(t, cfg)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("list namespaces without CA: error = %v, want an x509 unknown authority error", err)
		}
	})

	t.Run("no CA and insecureSkipTLSVerify: accepted", func(t *testing.T) {
		cfg, err := f.hub.RESTConfig(ctx, f.connection("without-ca", true))
		if err != nil {
			t.Fatalf("RESTConfig() error = %v", err)
		}
		if err := listNamespaces(t, cfg); err != nil {
			t.Fatalf("list namespaces with insecureSkipTLSVerify: %v", err)
		}
	})

	t.Run("credentialsRef namespace defaults to the connection's", func(t *testing.T) {
		cc := f.connection("with-ca", false)
		cc.Spec.CredentialsRef.Namespace = f.kube.Namespace
		cc.Namespace = "elsewhere"
		if _, err := f.hub.RESTConfig(ctx, cc); err != nil {
			t.Fatalf("RESTConfig() with explicit namespace: %v", err)
		}
		cc.Spec.CredentialsRef.Namespace = ""
		_, err := f.hub.RESTConfig(ctx, cc)
		if !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "elsewhere/with-ca") {
			t.Fatalf("RESTConfig() with defaulted namespace: error = %v, want ErrNotFound for elsewhere/with-ca", err)
		}
	})

	t.Run("missing secret", func(t *testing.T) {
		_, err := f.hub.RESTConfig(ctx, f.connection("absent", false))
		if !errors.Is(err, engine.ErrNotFound) || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "absent") {
			t.Fatalf("RESTConfig() error = %v, want ErrNotFound naming the secret", err)
		}
	})

	t.Run("secret without token", func(t *testing.T) {
		_, err := f.hub.RESTConfig(ctx, f.connection("without-token", false))
		if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), `without-token: key "token"`) {
			t.Fatalf("RESTConfig() error = %v, want ErrInvalid naming secret and key", err)
		}
	})
}
