package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// clusterHead is the part of a cluster's state that every cluster answer needs, read for many
// clusters in one pipelined round trip (never a SCAN).
type clusterHead struct {
	Name    string
	Exists  bool
	Spec    *engine.ClusterSpec
	Status  *engine.ClusterStatus
	Info    *engine.ClusterInfo
	Metrics *engine.ClusterMetrics
}

// labels returns the ClusterConnection labels policies match on.
func (h clusterHead) labels() map[string]string {
	if h.Spec == nil {
		return nil
	}
	return h.Spec.Labels
}

// decodeInto decodes the reply of a GET into *T; a missing key gives nil.
func decodeInto[T any](cmd *redis.StringCmd, what string) (*T, error) {
	data, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", what, engine.ErrUnavailable, err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return &v, nil
}

// pipelineErr classifies the error of a pipeline whose individual replies are checked later.
func pipelineErr(op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", op, engine.ErrUnavailable, err)
}

// readHeads reads the heads of the named clusters in one round trip. known says the names come
// from clusters:all; otherwise membership is checked in the same pipeline.
func (s *server) readHeads(ctx context.Context, names []string, known bool) ([]clusterHead, error) {
	k := s.Store.Keys()
	type cmds struct {
		member                      *redis.BoolCmd
		spec, status, info, metrics *redis.StringCmd
	}
	all := make([]cmds, len(names))
	_, err := s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			if !known {
				all[i].member = p.SIsMember(ctx, k.ClustersAll(), n)
			}
			all[i].spec = p.Get(ctx, k.ClusterSpec(n))
			all[i].status = p.Get(ctx, k.ClusterStatus(n))
			all[i].info = p.Get(ctx, k.ClusterInfo(n))
			all[i].metrics = p.Get(ctx, k.ClusterMetrics(n))
		}
		return nil
	})
	if err := pipelineErr("read clusters", err); err != nil {
		return nil, err
	}
	out := make([]clusterHead, len(names))
	for i, n := range names {
		h := clusterHead{Name: n, Exists: known}
		if !known {
			h.Exists = all[i].member.Val()
		}
		var err error
		if h.Spec, err = decodeInto[engine.ClusterSpec](all[i].spec, fmt.Sprintf("spec of cluster %q", n)); err != nil {
			return nil, err
		}
		if h.Status, err = decodeInto[engine.ClusterStatus](all[i].status, fmt.Sprintf("status of cluster %q", n)); err != nil {
			return nil, err
		}
		if h.Info, err = decodeInto[engine.ClusterInfo](all[i].info, fmt.Sprintf("info of cluster %q", n)); err != nil {
			return nil, err
		}
		if h.Metrics, err = decodeInto[engine.ClusterMetrics](all[i].metrics, fmt.Sprintf("metrics of cluster %q", n)); err != nil {
			return nil, err
		}
		if h.Spec != nil || h.Status != nil {
			h.Exists = true
		}
		out[i] = h
	}
	return out, nil
}

// clusterDetail is what the scoped parts of cluster answers need beyond the head: operators,
// and for callers restricted within the cluster, its nodes, namespaces and namespace counts.
type clusterDetail struct {
	Operators       []engine.Operator
	OperatorsTotal  *int
	Nodes           []engine.Node
	Namespaces      []string
	NamespaceCounts []engine.NamespaceCounts
	HasNamespaces   bool
	HasCounts       bool
}

// detailWant says which parts of a clusterDetail to read.
type detailWant struct {
	Operators      bool // the full operator list (else only the summary's total)
	NodesAndCounts bool // nodes, namespaces and namespace counts
}

// readDetails reads the details of the named clusters in one round trip, and a second one
// for the nodes of the clusters that need them.
func (s *server) readDetails(ctx context.Context, names []string, want []detailWant) ([]clusterDetail, error) {
	k := s.Store.Keys()
	type cmds struct {
		ops, opsSummary, namespaces, counts *redis.StringCmd
		nodeNames                           *redis.StringSliceCmd
		nodes                               []*redis.StringCmd
	}
	all := make([]cmds, len(names))
	_, err := s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			if want[i].Operators {
				all[i].ops = p.Get(ctx, k.Operators(n))
			} else {
				all[i].opsSummary = p.Get(ctx, k.OperatorsSummary(n))
			}
			if want[i].NodesAndCounts {
				all[i].namespaces = p.Get(ctx, k.Namespaces(n))
				all[i].counts = p.Get(ctx, k.NamespaceCounts(n))
				all[i].nodeNames = p.SMembers(ctx, k.Nodes(n))
			}
		}
		return nil
	})
	if err := pipelineErr("read cluster details", err); err != nil {
		return nil, err
	}
	// The nodes of every cluster that needs them, in a second round trip.
	var nodeCmds int
	for i := range all {
		if all[i].nodeNames != nil {
			nodeCmds += len(all[i].nodeNames.Val())
		}
	}
	if nodeCmds > 0 {
		_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range names {
				if all[i].nodeNames == nil {
					continue
				}
				nodeNames := all[i].nodeNames.Val()
				slices.Sort(nodeNames)
				for _, node := range nodeNames {
					all[i].nodes = append(all[i].nodes, p.HGet(ctx, k.Node(n, node), "current"))
				}
			}
			return nil
		})
		if err := pipelineErr("read nodes", err); err != nil {
			return nil, err
		}
	}
	out := make([]clusterDetail, len(names))
	for i, n := range names {
		var d clusterDetail
		if all[i].ops != nil {
			ops, err := decodeInto[[]engine.Operator](all[i].ops, fmt.Sprintf("operators of cluster %q", n))
			if err != nil {
				return nil, err
			}
			if ops != nil {
				d.Operators = *ops
			}
		} else {
			sum, err := decodeInto[engine.OperatorsSummary](all[i].opsSummary, fmt.Sprintf("operators summary of cluster %q", n))
			if err != nil {
				return nil, err
			}
			if sum != nil {
				d.OperatorsTotal = &sum.Total
			}
		}
		if want[i].NodesAndCounts {
			ns, err := decodeInto[engine.Namespaces](all[i].namespaces, fmt.Sprintf("namespaces of cluster %q", n))
			if err != nil {
				return nil, err
			}
			if ns != nil {
				d.Namespaces, d.HasNamespaces = ns.Namespaces, true
			}
			counts, err := decodeInto[[]engine.NamespaceCounts](all[i].counts, fmt.Sprintf("namespace counts of cluster %q", n))
			if err != nil {
				return nil, err
			}
			if counts != nil {
				d.NamespaceCounts, d.HasCounts = *counts, true
			}
			if err := all[i].nodeNames.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("read nodes of cluster %q: %w: %w", n, engine.ErrUnavailable, err)
			}
			d.Nodes = make([]engine.Node, 0, len(all[i].nodes))
			for _, cmd := range all[i].nodes {
				node, err := decodeInto[engine.Node](cmd, fmt.Sprintf("node of cluster %q", n))
				if err != nil {
					return nil, err
				}
				if node != nil {
					d.Nodes = append(d.Nodes, *node)
				}
			}
		}
		out[i] = d
	}
	return out, nil
}

// dataAge returns the seconds since the cluster's last successful collection, or nil when
// it is not known.
func dataAge(st *engine.ClusterStatus, now time.Time) *float64 {
	if st == nil || st.LastSuccess.IsZero() {
		return nil
	}
	age := now.Sub(st.LastSuccess.Time).Seconds()
	if age < 0 {
		age = 0
	}
	age = float64(int64(age*10)) / 10
	return &age
}
