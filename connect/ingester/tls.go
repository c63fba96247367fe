package ingester

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile/keyFile and re-reads both when either
// file's modification time or size changes, checked on each handshake (two stat calls), so a
// rotated certificate (cert-manager, a re-mounted Secret) takes effect without a restart. When
// a changed pair cannot be loaded (e.g. caught half-written), the previous certificate stays
// in use and the next handshake tries again.
type certReloader struct {
	certFile, keyFile string

	mu    sync.Mutex
	stamp [2]fileStamp
	cert  *tls.Certificate
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func (r *certReloader) get() (*tls.Certificate, error) {
	cs, cerr := stampOf(r.certFile)
	ks, kerr := stampOf(r.keyFile)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := errors.Join(cerr, kerr); err != nil {
		if r.cert != nil {
			return r.cert, nil
		}
		return nil, fmt.Errorf("stat TLS certificate: %w", err)
	}
	now := [2]fileStamp{cs, ks}
	if r.cert != nil && now == r.stamp {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.cert != nil {
			return r.cert, nil
		}
		return nil, fmt.Errorf("load TLS certificate %s: %w", r.certFile, err)
	}
	r.cert, r.stamp = &cert, now
	return r.cert, nil
}

// tlsConfig returns the server TLS configuration: TLS 1.2 or later, HTTP/2 and HTTP/1.1 by
// ALPN, the reloading certificate, and client-certificate authentication when clientCA is set.
func tlsConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	r, err := newCertReloader(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get() },
	}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
