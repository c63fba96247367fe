package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// customObject describes a custom resource to a matcher: _name, _namespace, _labels and the
// values field filters look at.
func customObject(r engine.CustomResource) policy.Object {
	return policy.Object{Name: r.Name, Namespace: r.Namespace, Labels: r.Labels, Fields: r.Values}
}

// customMatcher authorizes type typ on a cluster: 403 when the caller may not see it there,
// 404 when it may but no MetricSource provides it. src is nil only with an error.
func (s *server) customMatcher(ctx context.Context, d policy.Decision, typ string) (*metricsource.Compiled, *policy.Matcher, error) {
	denied := fmt.Errorf("access denied to custom resource type '%s': %w", typ, engine.ErrForbidden)
	src, err := s.Sources.ForType(ctx, typ)
	if errors.Is(err, engine.ErrNotFound) {
		if _, ok := d.Custom(typ, nil); !ok {
			return nil, nil, denied
		}
		return nil, nil, fmt.Errorf("custom resource type '%s' not found: %w", typ, engine.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	m, ok := d.Custom(typ, src.RBAC.FilterableFields)
	if !ok {
		return nil, nil, denied
	}
	return src, m, nil
}

// scopedAggregations returns the aggregations the caller sees: recomputed with the
// MetricSource's own aggregators over the visible items when the set was narrowed and the
// source asks for it (rbac.filterAggregations), else the stored ones; then the policy's
// include/exclude lists decide which names are shown. nil when there is nothing to show.
func scopedAggregations(src *metricsource.Compiled, m *policy.Matcher, stored *engine.AggregationResults, visible []engine.CustomResource, narrowed bool) map[string]any {
	var values map[string]any
	switch {
	case narrowed && src.RBAC.FilterAggregations:
		values = src.Aggregate(visible)
	case stored != nil:
		values = stored.Values
	default:
		return nil
	}
	out := map[string]any{}
	for name, v := range values {
		if m.AggregationVisible(name) {
			out[name] = v
		}
	}
	return out
}

// paginationJSON is the pagination block of the custom resources envelope; continue is new.
type paginationJSON struct {
	Total       int    `json:"total"`
	Page        int    `json:"page"`
	PageSize    int    `json:"pageSize"`
	TotalPages  int    `json:"totalPages"`
	HasNext     bool   `json:"hasNext"`
	HasPrevious bool   `json:"hasPrevious"`
	Continue    string `json:"continue,omitempty"`
}

// customPage reads page, page_size, limit and continue. page_size (or limit) defaults to 100
// and is capped at 1000; continue, when given, wins over page.
func customPage(r *http.Request) (offset, size, page int, err error) {
	q := r.URL.Query()
	size, page = defaultPageSize, 1
	if s := q.Get("page_size"); s != "" {
		if n, e := strconv.Atoi(s); e == nil && n > 0 {
			size = min(n, maxPageSize)
		}
	}
	if s := q.Get("page"); s != "" {
		if n, e := strconv.Atoi(s); e == nil && n > 0 {
			page = n
		}
	}
	offset = (page - 1) * size
	if q.Get("limit") != "" || q.Get("continue") != "" {
		win, e := parseWindow(r, size)
		if e != nil {
			return 0, 0, 0, e
		}
		size, offset = win.limit, win.offset
		page = offset/size + 1
	}
	return offset, size, page, nil
}

// sortValue returns the value of key for sorting: _id, _name, _namespace, or values.<field>
// (a bare name is taken as a field too).
func sortValue(r engine.CustomResource, key string) any {
	switch key {
	case "_id":
		return r.ID
	case "_name":
		return r.Name
	case "_namespace":
		return r.Namespace
	}
	return r.Values[strings.TrimPrefix(key, "values.")]
}

// compareValues orders numbers numerically before strings lexically before everything else;
// missing values sort last in either direction.
func compareValues(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case float64, int64, int:
			return 0
		case string:
			return 1
		case bool:
			return 2
		case nil:
			return 4
		}
		return 3
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		return cmp.Compare(fmt.Sprint(x), fmt.Sprint(b))
	}
	if ra == 0 {
		return cmp.Compare(toFloat(a), toFloat(b))
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case int:
		return float64(x)
	}
	return 0
}

// handleCustomResources returns the resources one MetricSource type collected on a cluster
// that the caller may see, sorted (by _id by default, or sort_by, including values.<field>),
// paginated, with the aggregations the caller may see.
func (s *server) handleCustomResources() http.Handler {
	type answer struct {
		ResourceTypeName string                  `json:"resourceTypeName"`
		Cluster          string                  `json:"cluster"`
		Items            []engine.CustomResource `json:"items"`
		Filtered         bool                    `json:"filtered"`
		Pagination       paginationJSON          `json:"pagination"`
		FilterNote       string                  `json:"filterNote,omitempty"`
		CollectedAt      engine.Time             `json:"collectedAt,omitzero"`
		Truncated        bool                    `json:"truncated,omitempty"`
		Aggregations     map[string]any          `json:"aggregations,omitempty"`
	}
	// The page is read before the caller and the cluster, so it does not fit clusterAPI.
	return s.api(func(r *http.Request, sc *scope) (any, error) {
		offset, size, page, err := customPage(r)
		if err != nil {
			return nil, err
		}
		if err := s.begin(r, sc, notList, true); err != nil {
			return nil, err
		}
		typ := chi.URLParam(r, "type")
		ctx := r.Context()
		src, m, err := s.customMatcher(ctx, sc.d, typ)
		if err != nil {
			return nil, err
		}
		coll, aggs, err := s.readCustom(ctx, []string{sc.h.Name}, src.ID)
		if err != nil {
			return nil, err
		}
		a := answer{ResourceTypeName: typ, Cluster: sc.h.Name, Items: []engine.CustomResource{},
			Pagination: paginationJSON{Page: 1, PageSize: size, TotalPages: 1}}
		if coll[0] == nil {
			return a, nil
		}
		q := r.URL.Query()
		ns := q.Get("namespace")
		raw := coll[0].Resources
		items := make([]engine.CustomResource, 0, len(raw))
		for _, it := range raw {
			if ns != "" && it.Namespace != ns {
				continue
			}
			if m.Allows(customObject(it)) {
				items = append(items, it)
			}
		}
		narrowed := len(items) != len(raw)
		key := cmp.Or(q.Get("sort_by"), "_id")
		desc := q.Get("sort_order") == "desc"
		slices.SortStableFunc(items, func(x, y engine.CustomResource) int {
			vx, vy := sortValue(x, key), sortValue(y, key)
			c := compareValues(vx, vy)
			if desc && vx != nil && vy != nil {
				c = -c
			}
			return cmp.Or(c, strings.Compare(x.ID, y.ID))
		})
		total := len(items)
		a.Filtered = narrowed
		if narrowed {
			a.FilterNote = "Results filtered based on access policies"
		}
		a.CollectedAt, a.Truncated = coll[0].CollectedAt, coll[0].Truncated
		start, end := min(offset, total), min(offset+size, total)
		a.Items = items[start:end]
		a.Pagination = paginationJSON{Total: total, Page: page, PageSize: size, TotalPages: max(1, (total+size-1)/size),
			HasNext: end < total, HasPrevious: start > 0}
		if end < total {
			a.Pagination.Continue = encodeContinue(end)
		}
		if q.Get("include_aggregations") != "false" {
			a.Aggregations = scopedAggregations(src, m, aggs[0], items, narrowed)
		}
		return a, nil
	})
}

// readCustom reads the collections and aggregations of source id on the named clusters in one
// round trip; missing ones are nil.
func (s *server) readCustom(ctx context.Context, clusters []string, id string) ([]*engine.CustomCollection, []*engine.AggregationResults, error) {
	k := s.Store.Keys()
	res := make([]*redis.StringCmd, len(clusters))
	agg := make([]*redis.StringCmd, len(clusters))
	_, err := s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range clusters {
			res[i] = p.Get(ctx, k.CustomResources(c, id))
			agg[i] = p.Get(ctx, k.CustomAggregations(c, id))
		}
		return nil
	})
	if err := pipelineErr("read custom resources", err); err != nil {
		return nil, nil, err
	}
	colls := make([]*engine.CustomCollection, len(clusters))
	aggs := make([]*engine.AggregationResults, len(clusters))
	for i, c := range clusters {
		if colls[i], err = decodeInto[engine.CustomCollection](res[i], fmt.Sprintf("custom resources %q of cluster %q", id, c)); err != nil {
			return nil, nil, err
		}
		if aggs[i], err = decodeInto[engine.AggregationResults](agg[i], fmt.Sprintf("aggregations %q of cluster %q", id, c)); err != nil {
			return nil, nil, err
		}
	}
	return colls, aggs, nil
}

// sourceShape is the part of a MetricSource's stored form /custom-types shows.
type sourceShape struct {
	Source struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Scope      string `json:"scope"`
	} `json:"source"`
	Fields       []named `json:"fields"`
	Computed     []named `json:"computed"`
	Aggregations []named `json:"aggregations"`
}

// named is anything with a name in a MetricSource's stored form.
type named struct {
	Name string `json:"name"`
}

// namesOf returns the names of items, never nil.
func namesOf(items []named) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

// handleCustomTypes lists the MetricSource types the caller may see on at least one cluster,
// sorted by type.
func (s *server) handleCustomTypes() http.Handler {
	type sourceJSON struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Scope      string `json:"scope"`
	}
	// details are present with include_source_details (a nil embedded pointer is omitted).
	type details struct {
		Source         sourceJSON `json:"source"`
		Fields         []string   `json:"fields"`
		ComputedFields []string   `json:"computedFields"`
		Aggregations   []string   `json:"aggregations"`
	}
	type entry struct {
		ResourceTypeName string `json:"resourceTypeName"`
		SourceID         string `json:"sourceId"`
		*details
		ClustersWithData *[]string `json:"clustersWithData,omitempty"`
	}
	return s.callerAPI(0, func(r *http.Request, sc *scope) (any, error) {
		ctx := r.Context()
		heads, decisions, err := s.visibleClusters(ctx, sc.c)
		if err != nil {
			return nil, err
		}
		where := map[string][]string{} // type → clusters where the caller may see it
		for i, h := range heads {
			for _, t := range decisions[i].CustomTypes() {
				where[t] = append(where[t], h.Name)
			}
		}
		srcs, err := s.Sources.Enabled(ctx)
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		withDetails, avail := q.Get("include_source_details") == "true", q.Get("include_cluster_availability") == "true"
		seen := map[string]bool{}
		out := []entry{}
		for _, src := range srcs {
			typ := src.RBAC.ResourceTypeName
			if seen[typ] || len(where[typ]) == 0 {
				continue
			}
			seen[typ] = true
			e := entry{ResourceTypeName: typ, SourceID: src.ID}
			if withDetails {
				var shape sourceShape
				body, err := json.Marshal(src)
				if err == nil {
					err = json.Unmarshal(body, &shape)
				}
				if err != nil {
					return nil, fmt.Errorf("describe metric source %q: %w", src.ID, err)
				}
				e.details = &details{
					Source: sourceJSON{APIVersion: shape.Source.APIVersion, Kind: shape.Source.Kind, Scope: cmp.Or(shape.Source.Scope, metricsource.ScopeNamespaced)},
					Fields: namesOf(shape.Fields), ComputedFields: namesOf(shape.Computed), Aggregations: namesOf(shape.Aggregations),
				}
			}
			if avail {
				with, err := s.clustersWithData(ctx, where[typ], src.ID)
				if err != nil {
					return nil, err
				}
				e.ClustersWithData = &with
			}
			out = append(out, e)
		}
		slices.SortStableFunc(out, func(a, b entry) int { return strings.Compare(a.ResourceTypeName, b.ResourceTypeName) })
		return cut(r, sc, out), nil
	})
}

// clustersWithData returns the clusters (in order) that hold data of source id, with one
// pipelined EXISTS per cluster instead of the original's SCAN.
func (s *server) clustersWithData(ctx context.Context, clusters []string, id string) ([]string, error) {
	k := s.Store.Keys()
	cmds := make([]*redis.IntCmd, len(clusters))
	_, err := s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range clusters {
			cmds[i] = p.Exists(ctx, k.CustomResources(c, id))
		}
		return nil
	})
	if err := pipelineErr("check custom resources", err); err != nil {
		return nil, err
	}
	out := []string{}
	for i, c := range clusters {
		if cmds[i].Val() > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// splitParams returns the values of a repeatable parameter, each also split at commas,
// without empty entries or duplicates, in order.
func splitParams(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// handleCustomTypeClusters returns, for each requested type and each cluster where the caller
// may see it (and that has data), the count of visible resources and, on request, the
// aggregations the caller may see. A requested type visible on no cluster is 403.
func (s *server) handleCustomTypeClusters() http.Handler {
	type row struct {
		Cluster          string         `json:"cluster"`
		ResourceTypeName string         `json:"resourceTypeName"`
		Count            int            `json:"count"`
		LastCollection   engine.Time    `json:"lastCollection,omitzero"`
		Aggregations     map[string]any `json:"aggregations,omitempty"`
	}
	// type is checked between the window and the caller, so this does not fit callerAPI.
	return s.api(func(r *http.Request, sc *scope) (any, error) {
		var err error
		if sc.win, err = parseWindow(r, 0); err != nil {
			return nil, err
		}
		q := r.URL.Query()
		types := splitParams(q["type"])
		if len(types) == 0 {
			return nil, fmt.Errorf("parameter \"type\" is required: %w", engine.ErrInvalid)
		}
		wanted := splitParams(q["clusters"])
		withAggs := q.Get("include_aggregations") == "true"
		if err = s.begin(r, sc, notList, false); err != nil {
			return nil, err
		}
		ctx := r.Context()
		heads, decisions, err := s.visibleClusters(ctx, sc.c)
		if err != nil {
			return nil, err
		}
		out := []row{}
		for _, typ := range types {
			src, err := s.Sources.ForType(ctx, typ)
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				return nil, err
			}
			var filterable []string
			if src != nil {
				filterable = src.RBAC.FilterableFields
			}
			var clusters []string
			var matchers []*policy.Matcher
			anywhere := false
			for i, h := range heads {
				m, ok := decisions[i].Custom(typ, filterable)
				if !ok {
					continue
				}
				anywhere = true
				if len(wanted) > 0 && !slices.Contains(wanted, h.Name) {
					continue
				}
				clusters, matchers = append(clusters, h.Name), append(matchers, m)
			}
			if !anywhere {
				return nil, fmt.Errorf("access denied to custom resource type '%s': %w", typ, engine.ErrForbidden)
			}
			if src == nil {
				continue
			}
			colls, aggs, err := s.readCustom(ctx, clusters, src.ID)
			if err != nil {
				return nil, err
			}
			for i, cl := range clusters {
				if colls[i] == nil {
					continue
				}
				visible := policy.Filter(matchers[i], colls[i].Resources, customObject)
				e := row{Cluster: cl, ResourceTypeName: typ, Count: len(visible), LastCollection: colls[i].CollectedAt}
				if withAggs {
					e.Aggregations = scopedAggregations(src, matchers[i], aggs[i], visible, len(visible) != len(colls[i].Resources))
				}
				out = append(out, e)
			}
		}
		return cut(r, sc, out), nil
	})
}
