package collector

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// defaultHTTPClient returns the client of the RPCs: HTTP/1.1 or HTTP/2 (ALPN) for the unary
// mode; HTTP/2 only for the stream mode (h2c over plain HTTP, as gRPC does).
func defaultHTTPClient(mode string, tc *tls.Config) *http.Client {
	var p http.Protocols
	if mode == ModeStream {
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tc,
		Protocols:           &p,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
}

// clientTLS builds the TLS configuration of the connection to the ingester (minimum TLS 1.2).
// caFile replaces the system roots when set. serverName, when set, is the name the ingester's
// certificate is verified against instead of the dialled host, while the SNI stays the dialled
// host: the original's trick for OpenShift passthrough routes, where the route's hostname is
// dialled and the certificate is the service-ca one of the in-cluster service name. The chain
// is still fully verified (VerifyConnection); only Go's host-name check is replaced.
func clientTLS(caFile, serverName, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read INGESTER_TLS_CA: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("INGESTER_TLS_CA %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = roots
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load INGESTER_TLS_CERT: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if serverName != "" {
		// Go's own check would compare the certificate with the dialled host; VerifyConnection
		// below does the whole verification against serverName instead.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("ingester presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, DNSName: serverName, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("verify ingester certificate for %q: %w", serverName, err)
			}
			return nil
		}
	}
	return tc, nil
}

// Handler serves /healthz and /metrics.
//
// /healthz is 200 while the collection loop makes progress (a liveness probe: a wedged loop
// fails it, an unreachable ingester does not, since the agent buffers) and answers a JSON
// summary. /metrics is the Prometheus text format.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /metrics", a.metrics)
	return mux
}

// stallAfter is how long the collection loop may go without progress before /healthz fails.
func (a *Agent) stallAfter() time.Duration {
	return 2*a.o.CollectInterval + a.o.CollectTimeout + time.Minute
}

func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	st := a.Stats()
	a.mu.Lock()
	alive := a.loopAlive
	a.mu.Unlock()
	status, code := "ok", http.StatusOK
	if !alive.IsZero() && time.Since(alive) > a.stallAfter() {
		status, code = "collection loop stalled since "+alive.UTC().Format(time.RFC3339), http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": status, "cluster": a.o.Cluster, "connected": st.Connected, "mode": a.o.Mode,
		"buffered_batches": st.BufferedBatches, "buffered_bytes": st.BufferedBytes,
		"dropped_batches": st.Dropped, "config_version": st.ConfigVersion, "sources": st.Sources,
	})
}

func (a *Agent) metrics(w http.ResponseWriter, _ *http.Request) {
	st := a.Stats()
	var b strings.Builder
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(&b, "# HELP clusterpulse_collector_%s %s\n# TYPE clusterpulse_collector_%s %s\nclusterpulse_collector_%s %v\n", name, help, name, typ, name, v)
	}
	connected := 0
	if st.Connected {
		connected = 1
	}
	metric("batches_collected_total", "counter", "Batches collected into the buffer.", st.Collected)
	metric("batches_pushed_total", "counter", "Batches the ingester acknowledged.", st.Pushed)
	metric("batches_duplicate_total", "counter", "Acknowledged batches the ingester had stored before.", st.Duplicates)
	metric("batches_dropped_total", "counter", "Batches dropped because the buffer was full.", st.Dropped)
	metric("batches_rejected_total", "counter", "Batches the ingester refused for good (malformed or too large).", st.Rejected)
	metric("push_failures_total", "counter", "Failed push attempts (retried).", st.PushFailures)
	metric("collect_failures_total", "counter", "Failed cluster or MetricSource collections.", st.CollectFailures)
	metric("buffered_batches", "gauge", "Batches waiting to be pushed.", st.BufferedBatches)
	metric("buffered_bytes", "gauge", "Encoded bytes waiting to be pushed.", st.BufferedBytes)
	metric("connected", "gauge", "1 after a successful push until the next failure.", connected)
	metric("metricsources", "gauge", "MetricSources in the current config.", st.Sources)
	metric("last_collection_duration_seconds", "gauge", "Duration of the last collection pass.", st.LastCollectionDuration.Seconds())
	if !st.LastCollection.IsZero() {
		metric("last_collection_timestamp_seconds", "gauge", "Time of the last collection pass.", float64(st.LastCollection.UnixMilli())/1000)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
