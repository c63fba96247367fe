package collector

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// ingesterServiceName is the only name in the TLS ingester's certificate: the in-cluster
// service name of the original's deployment. The address the agents dial, 127.0.0.1, is not
// in it, as the route hostname is not in a service-ca certificate.
const ingesterServiceName = "clusterpulse-ingester.clusterpulse.svc"

// pki is a test CA with its PEM file.
type pki struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	caFile string
	dir    string
	serial int64
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{cert: cert, key: key, dir: t.TempDir(), serial: 1}
	p.caFile = p.write(t, name+"-ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

func (p *pki) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue writes a certificate for dnsNames with usage and its key; it returns both paths.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage, dnsNames ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name}, DNSNames: dnsNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = p.write(t, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = p.write(t, name+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
	return certFile, keyFile
}

// tlsHub is a push-mode ClusterConnection with a registered token and `clusterpulse ingester`
// (ingester.Run, as the binary runs it) serving TLS on 127.0.0.1 with a certificate for
// ingesterServiceName only.
type tlsHub struct {
	store   *store.Store
	cluster string
	token   string
	addr    string
	kubecfg string
}

// newTLSHub starts the ingester with the server certificate of ca; clientCA, when set, makes
// it require client certificates signed by that CA (INGESTER_TLS_CLIENT_CA).
func newTLSHub(t *testing.T, ca *pki, clientCA *pki) *tlsHub {
	t.Helper()
	kubecfg := os.Getenv(testenv.EnvKubeconfig)
	k := testenv.NewKube(t)
	if kubecfg == "" {
		t.Skip("KUBECONFIG not set by the test environment")
	}
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy/crds"))
	r := testenv.NewRedis(t)
	h := &tlsHub{store: store.New(r.Client, store.Options{Prefix: r.Prefix}), cluster: testenv.Name(t), token: newToken(t), kubecfg: kubecfg}
	createPushCC(t, k, h.cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ingester.RegisterToken(ctx, h.store, h.cluster, h.token); err != nil {
		t.Fatal(err)
	}

	certFile, keyFile := ca.issue(t, "ingester", x509.ExtKeyUsageServerAuth, ingesterServiceName)
	redisHost, redisPort, err := net.SplitHostPort(r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	h.addr = "127.0.0.1:" + strconv.Itoa(port)
	env := map[string]string{
		"INGESTER_PORT": strconv.Itoa(port), "INGESTER_TLS_ENABLED": "true",
		"INGESTER_TLS_CERT": certFile, "INGESTER_TLS_KEY": keyFile,
		"REDIS_HOST": redisHost, "REDIS_PORT": redisPort, "REDIS_KEY_PREFIX": r.Prefix,
		"NAMESPACE": k.Namespace, "KUBECONFIG": kubecfg, "HOSTNAME": "tls-test",
		"INGESTER_CLUSTER_CACHE_TTL": "1s", "INGESTER_SHUTDOWN_TIMEOUT": "5s",
	}
	probe := &tls.Config{RootCAs: pool(t, ca.caFile), ServerName: ingesterServiceName, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		env["INGESTER_TLS_CLIENT_CA"] = clientCA.caFile
		cf, kf := clientCA.issue(t, "probe", x509.ExtKeyUsageClientAuth, "probe")
		c, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		probe.Certificates = []tls.Certificate{c}
	}
	ictx, icancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- ingester.Run(ictx, nil, func(k string) string { return env[k] }, logs, logs) }()
	t.Cleanup(func() {
		icancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ingester: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("ingester did not stop")
		}
	})
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: probe}}
	t.Cleanup(hc.CloseIdleConnections)
	testenv.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("ingester stopped: %v\n%s", err, logs.String())
		default:
		}
		resp, err := hc.Get("https://" + h.addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	return h
}

func pool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return p
}

func (h *tlsHub) stored(t *testing.T) int {
	t.Helper()
	ids, _ := storedBatches(t, h.store, h.cluster)
	return len(ids)
}

// runAgent runs `clusterpulse collector` (Run, from its environment) against h with the
// extra variables in env; it returns the JSON log and a function that stops the agent.
func (h *tlsHub) runAgent(t *testing.T, env map[string]string) (*syncBuffer, func()) {
	t.Helper()
	full := map[string]string{
		"CLUSTER_NAME": h.cluster, "INGESTER_ADDRESS": h.addr, "COLLECTOR_TOKEN": h.token,
		"COLLECT_INTERVAL": "1", "HEARTBEAT_INTERVAL": "1", "KUBECONFIG": h.kubecfg,
		"COLLECTOR_HTTP_PORT": "0", "COLLECTOR_FLUSH_TIMEOUT": "0", "LOG_LEVEL": "debug",
	}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, func(k string) string { return full[k] }, logs, logs) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("collector: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("collector did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return logs, stop
}

// syncBuffer is a log destination written from several goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// heartbeat calls the ingester once with the TLS configuration the agent builds from the
// INGESTER_TLS_* values (clientTLS), over the agent's HTTP client.
func heartbeat(t *testing.T, h *tlsHub, caFile, serverName, certFile, keyFile string) error {
	t.Helper()
	tc, err := clientTLS(caFile, serverName, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	hc := defaultHTTPClient(ModeUnary, tc)
	defer hc.CloseIdleConnections()
	c := collectorv1connect.NewCollectorServiceClient(hc, "https://"+h.addr)
	req := connect.NewRequest(&collectorv1.HealthReport{ClusterName: h.cluster})
	req.Header().Set("Authorization", "Bearer "+h.token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Heartbeat(ctx, req)
	return err
}

// certificateRequired reports whether err is the ingester's TLS alert certificate_required
// (the client side sees remote alerts only as text).
func certificateRequired(err error) bool {
	return strings.Contains(err.Error(), "remote error: tls: certificate required")
}

// TestAgentTLS runs the agent with the original TLS variables against an ingester serving
// TLS with a certificate for its in-cluster service name only, dialled at 127.0.0.1 (the
// OpenShift passthrough-route situation): with INGESTER_TLS_SERVER_NAME the chain is verified
// against that name and batches arrive, in both push modes; with the wrong CA, or without the
// server name (127.0.0.1 is not in the certificate), the agent is refused with a certificate
// error and nothing is stored. Against an ingester that requires client certificates, the
// agent is accepted with INGESTER_TLS_CERT/KEY and refused without them or with a certificate
// of another CA.
func TestAgentTLS(t *testing.T) {
	ca := newPKI(t, "ingester")
	other := newPKI(t, "other")
	clients := newPKI(t, "clients")
	clientCert, clientKey := clients.issue(t, "agent", x509.ExtKeyUsageClientAuth, "agent")
	strangerCert, strangerKey := other.issue(t, "stranger", x509.ExtKeyUsageClientAuth, "stranger")

	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	tests := []struct {
		name string
		// mtls: the ingester requires client certificates signed by clients.
		mtls bool
		env  map[string]string
		// wantStored: batches arrive; otherwise the agent's log shows wantLog in a failed push
		// and the same settings fail a direct call with an error that wantErr accepts.
		wantStored bool
		wantLog    string
		wantErr    func(error) bool
	}{
		{
			name:       "server name, unary",
			env:        map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_CA": ca.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName},
			wantStored: true,
		},
		{
			name: "server name, stream",
			env: map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_CA": ca.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName,
				"COLLECTOR_MODE": ModeStream},
			wantStored: true,
		},
		{
			name:    "wrong CA",
			env:     map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_CA": other.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName},
			wantLog: "certificate signed by unknown authority",
			wantErr: func(err error) bool { return errors.As(err, &unknownAuthority) },
		},
		{
			name:    "no server name: 127.0.0.1 is not in the certificate",
			env:     map[string]string{"INGESTER_TLS_ENABLED": "1", "INGESTER_TLS_CA": ca.caFile},
			wantLog: "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
			wantErr: func(err error) bool { return errors.As(err, &hostname) },
		},
		{
			name: "client certificate required and given",
			mtls: true,
			env: map[string]string{"INGESTER_TLS_ENABLED": "yes", "INGESTER_TLS_CA": ca.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName,
				"INGESTER_TLS_CERT": clientCert, "INGESTER_TLS_KEY": clientKey},
			wantStored: true,
		},
		{
			name:    "client certificate required, none given",
			mtls:    true,
			env:     map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_CA": ca.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName},
			wantLog: "remote error: tls: certificate required",
			wantErr: certificateRequired,
		},
		{
			// Go's client sends no certificate the server's CertificateRequest does not
			// accept, so the ingester sees none.
			name: "client certificate of another CA",
			mtls: true,
			env: map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_CA": ca.caFile, "INGESTER_TLS_SERVER_NAME": ingesterServiceName,
				"INGESTER_TLS_CERT": strangerCert, "INGESTER_TLS_KEY": strangerKey},
			wantLog: "remote error: tls: certificate required",
			wantErr: certificateRequired,
		},
	}
	hubs := map[bool]*tlsHub{false: newTLSHub(t, ca, nil), true: newTLSHub(t, ca, clients)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hubs[tt.mtls]
			before := h.stored(t)
			logs, stop := h.runAgent(t, tt.env)
			if tt.wantStored {
				testenv.Eventually(t, 30*time.Second, func() error {
					if n := h.stored(t); n <= before {
						return fmt.Errorf("no new batch stored; log:\n%s", logs.String())
					}
					return nil
				})
				// The ingester stores a batch before it answers: wait for the agent to read the
				// answer before stopping it.
				testenv.Eventually(t, 30*time.Second, func() error {
					if !strings.Contains(logs.String(), "connected to the ingester") {
						return fmt.Errorf("the log does not say the agent connected:\n%s", logs.String())
					}
					return nil
				})
				stop()
				return
			}
			// The first failure is a warning whatever its text; with TLS 1.3 a refused client
			// certificate reaches the HTTP/2 transport after the handshake, and some attempts
			// only say "http2: client conn could not be established". Every attempt is in the
			// debug log, and the certificate error shows within a few.
			testenv.Eventually(t, 30*time.Second, func() error {
				var warned, named bool
				for _, line := range strings.Split(logs.String(), "\n") {
					if !strings.Contains(line, "push failed") {
						continue
					}
					warned = warned || strings.Contains(line, `"level":"WARN"`)
					named = named || strings.Contains(line, tt.wantLog)
				}
				if !warned || !named {
					return fmt.Errorf("want a push failure warning and a push failure with %q in the log (warned %v, named %v):\n%s", tt.wantLog, warned, named, logs.String())
				}
				return nil
			})
			stop()
			if n := h.stored(t); n != before {
				t.Errorf("%d batches stored through a refused connection", n-before)
			}
			testenv.Eventually(t, 20*time.Second, func() error {
				err := heartbeat(t, h, tt.env["INGESTER_TLS_CA"], tt.env["INGESTER_TLS_SERVER_NAME"], tt.env["INGESTER_TLS_CERT"], tt.env["INGESTER_TLS_KEY"])
				switch {
				case err == nil:
					t.Fatal("a direct call with the same settings was accepted")
				case !tt.wantErr(err):
					return fmt.Errorf("direct call with the same settings: err = %v (%T), want a certificate error", err, err)
				}
				return nil
			})
		})
	}
}

// TestClientTLSConfig checks the configuration the agent builds from the INGESTER_TLS_*
// values without a server: unreadable or empty files are errors naming the variable, and a
// server name replaces Go's host-name check by a full verification against that name.
func TestClientTLSConfig(t *testing.T) {
	ca := newPKI(t, "ingester")
	certFile, keyFile := ca.issue(t, "agent", x509.ExtKeyUsageClientAuth, "agent")
	empty := ca.write(t, "empty.pem", []byte("no certificate here\n"))
	tests := []struct {
		name                   string
		ca, server, cert, key  string
		wantErr                string
		wantSkip, wantVerifier bool
		wantCerts              int
	}{
		{name: "system pool"},
		{name: "CA file", ca: ca.caFile},
		{name: "server name", ca: ca.caFile, server: ingesterServiceName, wantSkip: true, wantVerifier: true},
		{name: "client certificate", ca: ca.caFile, cert: certFile, key: keyFile, wantCerts: 1},
		{name: "missing CA file", ca: filepath.Join(ca.dir, "absent.crt"), wantErr: "read INGESTER_TLS_CA"},
		{name: "CA file without certificate", ca: empty, wantErr: "holds no PEM certificate"},
		{name: "bad client certificate", cert: empty, key: keyFile, wantErr: "load INGESTER_TLS_CERT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := clientTLS(tt.ca, tt.server, tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("clientTLS err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion %x, want TLS 1.2", tc.MinVersion)
			}
			if tc.InsecureSkipVerify != tt.wantSkip || (tc.VerifyConnection != nil) != tt.wantVerifier {
				t.Errorf("InsecureSkipVerify %v VerifyConnection %v, want %v %v", tc.InsecureSkipVerify, tc.VerifyConnection != nil, tt.wantSkip, tt.wantVerifier)
			}
			if (tc.RootCAs != nil) != (tt.ca != "") {
				t.Errorf("RootCAs set %v, want %v", tc.RootCAs != nil, tt.ca != "")
			}
			if len(tc.Certificates) != tt.wantCerts {
				t.Errorf("%d client certificates, want %d", len(tc.Certificates), tt.wantCerts)
			}
			if tc.ServerName != "" {
				t.Errorf("ServerName %q: the SNI must stay the dialled host", tc.ServerName)
			}
		})
	}
	t.Run("verifier with no peer certificate", func(t *testing.T) {
		tc, err := clientTLS(ca.caFile, ingesterServiceName, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.VerifyConnection(tls.ConnectionState{}); err == nil {
			t.Error("VerifyConnection accepted a connection without a certificate")
		}
	})
}
