// Package testenv gives integration tests the real services that `make test` (or `make
// testenv-up`) starts: Redis, a kube-apiserver, VictoriaMetrics and a Docker Registry v2. Each
// accessor isolates the calling test (a Redis key prefix, a Kubernetes namespace) and cleans up
// after it.
//
// When a service's address is not in the environment the test is skipped with a message that
// says how to start it, except when CI=true: there a missing service fails the test.
//
// This package is imported only by tests. It must not import any ClusterPulse package.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment variables written by testenv/scripts/up.sh into $RUN_DIR/env.
const (
	EnvRedisAddr   = "REDIS_ADDR"
	EnvKubeconfig  = "KUBECONFIG"
	EnvKubeURL     = "KUBE_APISERVER_URL"
	EnvKubeToken   = "KUBE_TOKEN"
	EnvKubeCAFile  = "KUBE_CA_FILE"
	EnvVMURL       = "VM_URL"
	EnvRegistryURL = "REGISTRY_URL"
	EnvKwokBin     = "KWOK_BIN"
	EnvBinDir      = "TESTENV_BIN_DIR"
)

const howToStart = "start the test environment with `make testenv-up` and `source $(make -s testenv-env)`, or run `make test`"

// require returns the value of the environment variable name, or ends the test: skip outside
// CI, fail under CI=true, naming the service that is missing.
func require(t testing.TB, service, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required but %s is not set (CI=true); %s", service, name, howToStart)
	}
	t.Skipf("%s not available (%s is not set); %s", service, name, howToStart)
	return ""
}

// Name returns a short, unique, DNS-label-safe name derived from the test name.
func Name(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random name: %v", err)
	}
	base := strings.ToLower(t.Name())
	base = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(base, "-")
	base = strings.Trim(base, "-")
	if len(base) > 40 {
		base = strings.Trim(base[len(base)-40:], "-")
	}
	return "t-" + base + "-" + hex.EncodeToString(b[:])
}

// Redis is a connection to the shared test Redis, with a key prefix owned by one test.
type Redis struct {
	Addr   string
	Client *redis.Client
	// Prefix is unique to the test; every key the test writes must start with it. Keys with
	// this prefix are deleted when the test ends.
	Prefix string
}

// NewRedis connects to the test Redis (REDIS_ADDR) and reserves a key prefix for t.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	addr := require(t, "Redis", EnvRedisAddr)
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping test Redis at %s: %v", addr, err)
	}
	r := &Redis{Addr: addr, Client: c, Prefix: Name(t) + ":"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return r
}

// Kube is a client for the hub kube-apiserver with a namespace owned by one test.
type Kube struct {
	// Config authenticates as the cluster admin (static token in system:masters).
	Config    *rest.Config
	Client    kubernetes.Interface
	Dynamic   dynamic.Interface
	Namespace string
}

// KubeConfig returns an admin rest.Config for the test kube-apiserver.
func KubeConfig(t testing.TB) *rest.Config {
	t.Helper()
	kc := require(t, "kube-apiserver", EnvKubeconfig)
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", kc, err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	return cfg
}

// NewKube connects to the test kube-apiserver and creates a namespace for t, deleted when the
// test ends. There is no controller-manager: create service accounts yourself, bind explicit
// roles (the aggregated view/edit roles are empty) and set spec.nodeName on pods.
func NewKube(t testing.TB) *Kube {
	t.Helper()
	cfg := KubeConfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	k := &Kube{Config: cfg, Client: cs, Dynamic: dc, Namespace: Name(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: k.Namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create test namespace %s: %v", k.Namespace, err)
	}
	t.Cleanup(func() { DeleteNamespace(t, cs, k.Namespace) })
	return k
}

// DeleteNamespace deletes a namespace and clears its finalizers, since no namespace controller
// runs that would ever finish the deletion.
func DeleteNamespace(t testing.TB, cs kubernetes.Interface, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Logf("delete namespace %s: %v", name, err)
		return
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	ns.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Logf("finalize namespace %s: %v", name, err)
	}
}

// VictoriaMetricsURL returns the base URL of the test VictoriaMetrics (started with
// -search.latencyOffset=0s; call /internal/force_flush after writing and poll for new series).
func VictoriaMetricsURL(t testing.TB) string {
	t.Helper()
	u := require(t, "VictoriaMetrics", EnvVMURL)
	mustReach(t, "VictoriaMetrics", u+"/health")
	return u
}

// RegistryURL returns the base URL of the test Docker Registry v2 (no auth, plain HTTP).
func RegistryURL(t testing.TB) string {
	t.Helper()
	u := require(t, "Docker Registry", EnvRegistryURL)
	mustReach(t, "Docker Registry", u+"/v2/")
	return u
}

// BinDir returns the directory holding the cached test binaries (kube-apiserver, etcd, kwok,
// victoria-metrics, controller-gen).
func BinDir(t testing.TB) string {
	t.Helper()
	return require(t, "test binaries", EnvBinDir)
}

func mustReach(t testing.TB, service, url string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("%s at %s is not reachable: %v", service, url, err)
	}
	resp.Body.Close()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually polls cond every 50 ms until it returns nil or timeout passes, then fails the test
// with the last error. Use it instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RedisServer is a private redis-server process owned by one test, for tests that stop and
// restart Redis (the shared one must stay up for the other packages).
type RedisServer struct {
	Addr string
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
}

// StartRedisServer starts a private redis-server (no persistence) on a free loopback port and
// stops it when the test ends.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	require(t, "Redis", EnvRedisAddr) // same rule as the shared server: skip or fail alike
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not on PATH: %v; %s", err, howToStart)
	}
	s := &RedisServer{t: t, dir: t.TempDir(), port: FreePort(t)}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) on the same port and waits until it answers PING.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	Eventually(s.t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
}

// Stop kills the server and waits until the process is gone.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// String describes the server for log messages.
func (s *RedisServer) String() string { return fmt.Sprintf("redis-server on %s", s.Addr) }
