package engine

// Version is the ClusterPulse release, set at build time with
// -ldflags "-X github.com/clusterpulse/clusterpulse/engine.Version=v1.2.3".
var Version = "dev"
