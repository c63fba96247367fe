package jobs

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// commonEnv is the environment every job reads besides the hub (kube.HubConfig) and Redis
// (store.Config) variables.
type commonEnv struct {
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"log level of the JSON log on stderr: debug, info, warn or error"`
	Hostname string `envconfig:"HOSTNAME" desc:"pod name, the first part of the lease owner token"`
	// CompletionIndex and Completions are strings so that "unset" and "0" differ.
	CompletionIndex string `envconfig:"JOB_COMPLETION_INDEX" desc:"shard index of an Indexed Job (set by Kubernetes); needs JOB_COMPLETIONS"`
	Completions     string `envconfig:"JOB_COMPLETIONS" desc:"number of shards of an Indexed Job (its spec.completions)"`
}

// envDescriptions documents the variables of the configuration structs owned by other
// packages, for --help. A test keeps it complete. (A function, not a package variable: no
// package-level mutable state.)
func envDescriptions() map[string]string {
	return map[string]string{
		"NAMESPACE":                      "hub namespace of the ClusterPulse custom resources",
		"KUBECONFIG":                     "kubeconfig of the hub cluster; in-cluster service account when unset",
		"REDIS_HOST":                     "Redis host",
		"REDIS_PORT":                     "Redis port",
		"REDIS_PASSWORD":                 "Redis password",
		"REDIS_DB":                       "Redis database number",
		"REDIS_USERNAME":                 "Redis ACL user",
		"REDIS_TLS_ENABLED":              "connect to Redis with TLS",
		"REDIS_TLS_CA_FILE":              "PEM bundle trusted for Redis TLS",
		"REDIS_TLS_SERVER_NAME":          "name expected in the Redis certificate",
		"REDIS_TLS_INSECURE_SKIP_VERIFY": "do not verify the Redis certificate",
		"REDIS_SENTINEL_ADDRS":           "comma-separated Sentinel host:port list (switches to Sentinel)",
		"REDIS_SENTINEL_MASTER":          "master name monitored by the Sentinels",
		"REDIS_SENTINEL_PASSWORD":        "Sentinel password",
		"REDIS_KEY_PREFIX":               "prefix of every Redis key",
		"CACHE_TTL":                      "TTL of state keys, seconds (minimum 60)",
		"METRICS_RETENTION":              "node sample window, seconds (minimum 300)",
	}
}

// envSpecs are the configuration structs every job reads, in the order --help lists them.
func envSpecs() []any { return []any{commonEnv{}, kube.HubConfig{}, store.Config{}} }

// loadEnv fills the fields of the struct spec points to from getenv, with the tags of
// github.com/kelseyhightower/envconfig (`envconfig:"NAME"`, `default:"value"`), so that the
// same structs serve both. envconfig itself reads only the process environment; Run must read
// the getenv it is given (tests pass their own), hence this reader. An empty value counts as
// unset. Supported kinds: string, bool (strconv.ParseBool), integers, time.Duration and
// []string (comma separated). Each error names the variable.
func loadEnv(getenv func(string) string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("load environment: %T is not a pointer to a struct", spec)
	}
	v = v.Elem()
	var errs []error
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" || !f.IsExported() {
			continue
		}
		val := getenv(name)
		if val == "" {
			val = f.Tag.Get("default")
		}
		if val == "" {
			continue
		}
		if err := setField(v.Field(i), val); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, val, err))
		}
	}
	return errors.Join(errs...)
}

func setField(f reflect.Value, val string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(val)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return errors.New("not a boolean")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, f.Type().Bits())
		if err != nil {
			return errors.New("not an integer")
		}
		f.SetInt(n)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s", f.Type())
		}
		var parts []string
		for _, p := range strings.Split(val, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// envVar is one environment variable for --help.
type envVar struct{ name, def, desc string }

// envVars lists the variables of the structs in specs, in field order, without duplicates.
func envVars(specs ...any) []envVar {
	var out []envVar
	seen := map[string]bool{}
	descs := envDescriptions()
	for _, s := range specs {
		t := reflect.TypeOf(s)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("envconfig")
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			desc := f.Tag.Get("desc")
			if desc == "" {
				desc = descs[name]
			}
			out = append(out, envVar{name: name, def: f.Tag.Get("default"), desc: desc})
		}
	}
	return out
}
