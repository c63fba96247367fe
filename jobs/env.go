package jobs

import (
	"github.com/clusterpulse/clusterpulse/engine/envconf"
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

// envSpecs are the configuration structs every job reads, in the order --help lists them.
func envSpecs() []any { return []any{commonEnv{}, kube.HubConfig{}, store.Config{}} }

// loadEnv reads spec from getenv with envconf's rules (envconfig tags, each error naming the
// variable).
func loadEnv(getenv func(string) string, spec any) error { return envconf.Load(getenv, spec) }
