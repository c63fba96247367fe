package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RegistryOptions configure a private docker-registry.
type RegistryOptions struct {
	// Users, when not empty, turns on htpasswd Basic authentication with these user → password
	// pairs (bcrypt, written with the htpasswd tool).
	Users map[string]string
	// TLS serves HTTPS with a self-signed certificate for 127.0.0.1 and localhost, generated
	// for the test (RegistryServer.CertPEM, RegistryServer.RootCAs).
	TLS bool
}

// RegistryServer is a private docker-registry process owned by one test, for tests that need
// authentication, TLS or a registry that goes down (the shared one, RegistryURL, is plain HTTP
// without auth and must stay up for the other packages).
type RegistryServer struct {
	// URL is the base URL, http://127.0.0.1:port or https://127.0.0.1:port.
	URL string
	// Addr is host:port.
	Addr string
	// CertPEM is the self-signed certificate (PEM) when Options.TLS is set.
	CertPEM []byte
	// RootCAs trusts CertPEM, when Options.TLS is set.
	RootCAs *x509.CertPool

	t    testing.TB
	dir  string
	cmd  *exec.Cmd
	tls  bool
	conf string
}

// StartRegistry starts a private docker-registry (filesystem storage in a temporary
// directory) on a free loopback port, waits until it answers /v2/, and stops it when the test
// ends. It needs the docker-registry binary on PATH, and htpasswd (apache2-utils) when
// opts.Users is set. Like every accessor here it skips outside CI when the test environment
// is not up (REGISTRY_URL unset) and fails under CI=true.
func StartRegistry(t testing.TB, opts RegistryOptions) *RegistryServer {
	t.Helper()
	require(t, "Docker Registry", EnvRegistryURL)
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatalf("docker-registry not on PATH: %v; %s", err, howToStart)
	}
	dir := t.TempDir()
	port := FreePort(t)
	s := &RegistryServer{t: t, dir: dir, tls: opts.TLS, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	scheme := "http"

	var b strings.Builder
	fmt.Fprintf(&b, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "http:\n  addr: %s\n  secret: %s\n", s.Addr, randomHex(t, 16))
	if opts.TLS {
		scheme = "https"
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		certPEM, keyPEM := SelfSignedCert(t, "127.0.0.1", "localhost")
		writeFile(t, certFile, certPEM)
		writeFile(t, keyFile, keyPEM)
		s.CertPEM = certPEM
		s.RootCAs = x509.NewCertPool()
		s.RootCAs.AppendCertsFromPEM(certPEM)
		fmt.Fprintf(&b, "  tls:\n    certificate: %s\n    key: %s\n", certFile, keyFile)
	}
	if len(opts.Users) > 0 {
		if _, err := exec.LookPath("htpasswd"); err != nil {
			t.Fatalf("htpasswd (apache2-utils) not on PATH: %v", err)
		}
		users := make([]string, 0, len(opts.Users))
		for u := range opts.Users {
			users = append(users, u)
		}
		sort.Strings(users)
		var lines []byte
		for _, u := range users {
			out, err := exec.Command("htpasswd", "-Bbn", u, opts.Users[u]).Output()
			if err != nil {
				t.Fatalf("htpasswd for user %q: %v", u, err)
			}
			lines = append(lines, []byte(strings.TrimSpace(string(out))+"\n")...)
		}
		pwFile := filepath.Join(dir, "htpasswd")
		writeFile(t, pwFile, lines)
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: clusterpulse-test\n    path: %s\n", pwFile)
	}
	s.conf = filepath.Join(dir, "config.yml")
	writeFile(t, s.conf, []byte(b.String()))
	s.URL = scheme + "://" + s.Addr
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the registry (again) on the same port and waits until /v2/ answers (any HTTP
// status: with authentication it is 401).
func (s *RegistryServer) Start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "registry.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatalf("registry log: %v", err)
	}
	defer log.Close()
	s.cmd = exec.Command("docker-registry", "serve", s.conf)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start docker-registry: %v", err)
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12},
	}}
	defer c.CloseIdleConnections()
	Eventually(s.t, 20*time.Second, func() error {
		resp, err := c.Get(s.URL + "/v2/")
		if err != nil {
			return fmt.Errorf("%s: %w (log: %s)", s, err, filepath.Join(s.dir, "registry.log"))
		}
		resp.Body.Close()
		return nil
	})
}

// Stop kills the registry and waits until the process is gone; the port then refuses
// connections.
func (s *RegistryServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// String describes the server for log messages.
func (s *RegistryServer) String() string { return "docker-registry on " + s.URL }

// SelfSignedCert returns a self-signed ECDSA P-256 certificate valid for one day for hosts
// (IP addresses or DNS names) and its private key, both PEM encoded.
func SelfSignedCert(t testing.TB, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "clusterpulse-test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
