package ingester

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key with serial and the given usage.
func (ca *testCA) issue(t *testing.T, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "ingester"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func writeFile(t *testing.T, path string, b []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReloadAndClientAuth serves over TLS with client-certificate authentication: a client
// without a certificate is refused, one with a certificate calls over gRPC (HTTP/2); a new
// server certificate written to the files is served on the next handshake without a restart;
// cancelling the context drains and stops the server.
func TestTLSReloadAndClientAuth(t *testing.T) {
	e := newEnv(t)
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	c1, k1 := ca.issue(t, 100, x509.ExtKeyUsageServerAuth)
	mod := time.Now().Add(-time.Minute)
	writeFile(t, certFile, c1, mod)
	writeFile(t, keyFile, k1, mod)
	writeFile(t, caFile, ca.pem, mod)

	srv, err := NewServer(Options{Store: e.store, Clusters: e.hub, Replica: "tls"})
	if err != nil {
		t.Fatal(err)
	}
	tcfg, err := tlsConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, srv, tcfg, 5*time.Second, slog.New(slog.DiscardHandler)) }()
	url := "https://" + ln.Addr().String()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	cc, ck := ca.issue(t, 200, x509.ExtKeyUsageClientAuth)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	client := func(certs ...tls.Certificate) *http.Client {
		var p http.Protocols
		p.SetHTTP2(true)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Protocols:       &p,
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
		}}
	}
	beat := func(hc *http.Client) error {
		c := collectorv1connect.NewCollectorServiceClient(hc, url, connect.WithGRPC())
		_, err := c.Heartbeat(context.Background(), withToken(&collectorv1.HealthReport{ClusterName: e.pushA}, e.tokenA))
		return err
	}
	if err := beat(client()); err == nil {
		t.Error("a client without a certificate was served")
	}
	if err := beat(client(clientCert)); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}

	serial := func() int64 {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 100 {
		t.Fatalf("served serial %d, want 100", got)
	}
	c2, k2 := ca.issue(t, 101, x509.ExtKeyUsageServerAuth)
	writeFile(t, certFile, c2, time.Now())
	writeFile(t, keyFile, k2, time.Now())
	if got := serial(); got != 101 {
		t.Errorf("after rotation served serial %d, want 101", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
