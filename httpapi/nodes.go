package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// defaultNodeChunk is how many nodes a filtered node list reads per round trip.
const defaultNodeChunk = 500

// nodeQuery is what a node list keeps: the caller's nodes matcher and the role and status
// parameters ("" for any).
type nodeQuery struct {
	m            *policy.Matcher
	role, status string
}

// keep reports whether node n is in the list.
func (q nodeQuery) keep(n engine.Node) bool {
	if q.role != "" && !slices.Contains(n.Roles, q.role) {
		return false
	}
	if q.status != "" && n.Status != q.status {
		return false
	}
	return q.m.Allows(nodeObject(n))
}

// surelyKept reports whether a node called name is in the list whatever its labels and
// fields: no role or status is asked for, and the matcher allows an object with that name and
// no labels or fields. Label filters and field allow lists reject such an object, and every
// other constraint depends on the name alone, so a true answer holds for the real node.
func (q nodeQuery) surelyKept(name string) bool {
	return q.role == "" && q.status == "" && q.m.Allows(policy.Object{Name: name})
}

// listNodes returns the nodes of cluster c in the window win of the list q selects (sorted by
// name) and the length of the list as far as it was read: when it is greater than the end of
// the window, more nodes follow. It reads only the nodes it needs: the window itself when
// every candidate's membership follows from its name, else the candidates in chunks until the
// window is filled and one more node is known.
func (s *server) listNodes(ctx context.Context, c string, q nodeQuery, win window) ([]engine.Node, int, error) {
	names, err := s.Store.Client().SMembers(ctx, s.Store.Keys().Nodes(c)).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("read nodes of cluster %q: %w: %w", c, engine.ErrUnavailable, err)
	}
	slices.Sort(names)
	candidates := names[:0]
	sure := true
	for _, n := range names {
		if !q.m.Admits(n) {
			continue
		}
		candidates = append(candidates, n)
		sure = sure && q.surelyKept(n)
	}
	if sure && win.limit > 0 {
		if win.offset >= len(candidates) {
			return nil, len(candidates), nil
		}
		page := candidates[win.offset:min(win.offset+win.limit, len(candidates))]
		nodes, complete, err := s.readNodes(ctx, c, page)
		if err != nil {
			return nil, 0, err
		}
		if complete {
			return nodes, len(candidates), nil
		}
		// A node vanished between the set and its hash: positions shifted, read it all.
	}
	want := len(candidates)
	if win.limit > 0 {
		want = win.offset + win.limit + 1
	}
	var kept []engine.Node
	for start := 0; start < len(candidates) && len(kept) < want; start += s.nodeChunk {
		nodes, _, err := s.readNodes(ctx, c, candidates[start:min(start+s.nodeChunk, len(candidates))])
		if err != nil {
			return nil, 0, err
		}
		for _, n := range nodes {
			if q.keep(n) {
				kept = append(kept, n)
			}
		}
	}
	if win.offset >= len(kept) {
		return nil, len(kept), nil
	}
	end := len(kept)
	if win.limit > 0 {
		end = min(end, win.offset+win.limit)
	}
	return kept[win.offset:end], len(kept), nil
}

// readNodes reads the named nodes of cluster c in one round trip, in order. complete is false
// when some of them no longer exist (they are left out).
func (s *server) readNodes(ctx context.Context, c string, names []string) (nodes []engine.Node, complete bool, err error) {
	k := s.Store.Keys()
	cmds := make([]*redis.StringCmd, len(names))
	_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HGet(ctx, k.Node(c, n), "current")
		}
		return nil
	})
	if err := pipelineErr(fmt.Sprintf("read nodes of cluster %q", c), err); err != nil {
		return nil, false, err
	}
	nodes = make([]engine.Node, 0, len(names))
	complete = true
	for i, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			complete = false
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("read node %q of cluster %q: %w: %w", names[i], c, engine.ErrUnavailable, err)
		}
		var n engine.Node
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, false, fmt.Errorf("decode node %q of cluster %q: %w", names[i], c, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, complete, nil
}
