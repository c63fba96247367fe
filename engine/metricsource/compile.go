package metricsource

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
)

// The scopes of spec.source.scope.
const (
	ScopeNamespaced = "Namespaced"
	ScopeCluster    = "Cluster"
)

// The collection defaults of the original, applied to a zero setting (the CRD defaults them too,
// so a zero only reaches the compiler from Go code or a spec stored without defaulting).
const (
	DefaultIntervalSeconds = 60
	DefaultTimeoutSeconds  = 30
	DefaultMaxResources    = 5000
	DefaultBatchSize       = 500
	DefaultRetryAttempts   = 3
	DefaultParallelism     = 3
)

// The minimum of each collection setting, as in the CRD.
const (
	minIntervalSeconds = 30
	minTimeoutSeconds  = 5
	minBatchSize       = 10
)

// The built-in aggregation field names and prefix (see EXPRESSIONS.md, "Aggregations").
const (
	builtinNamespace = "namespace"
	builtinName      = "name"
	labelsPrefix     = "labels."
)

// Options changes how Compile builds a source. The zero Options is the production setting.
type Options struct {
	// Now is the clock of the expression functions now() and age() and of CompiledAt; nil
	// means time.Now.
	Now func() time.Time
}

// Collection holds a source's collection settings with the defaults applied.
type Collection struct {
	// Interval is the time between two collections.
	Interval time.Duration
	// Timeout bounds the collection of one cluster.
	Timeout time.Duration
	// MaxResources caps the resources kept per cluster.
	MaxResources int
	// BatchSize is the page size of the LIST requests.
	BatchSize int
	// RetryAttempts is how often a LIST request that failed transiently is retried.
	RetryAttempts int
	// Parallelism is the number of concurrent per-namespace LIST requests.
	Parallelism int
}

// RBAC holds the source's access settings with the defaults applied.
type RBAC struct {
	// ResourceTypeName is the resource type policy rules name to grant access.
	ResourceTypeName string
	// FilterableFields are the fields policy field filters may restrict on.
	FilterableFields []string
	// FilterAggregations recomputes aggregations for callers who see a filtered subset.
	FilterAggregations bool
}

// Compiled is a MetricSource compiled for collection: validated, with its paths parsed, its
// expressions compiled in dependency order and its aggregations built. A Compiled is immutable
// (treat the exported fields as read-only) and safe for concurrent use by many collections.
//
// The resource name is not part of it: it depends on the cluster and is found with Resolve.
type Compiled struct {
	// Name and Namespace are those of the MetricSource; ID is "namespace/name" (or "name"
	// when the namespace is empty), the sourceId of the Redis keys.
	Name, Namespace, ID string
	// Hash is the first 16 hex characters of the SHA-256 of the canonical spec JSON (the spec
	// with defaults applied, encoding/json order); it changes when and only when the
	// normalised spec changes.
	Hash string
	// CompiledAt is when the spec was compiled.
	CompiledAt time.Time
	// APIVersion and Kind are spec.source's; GroupVersion is APIVersion parsed.
	APIVersion, Kind string
	GroupVersion     schema.GroupVersion
	// Scope is the declared scope, ScopeNamespaced or ScopeCluster (informational: Resolve
	// takes the real scope from the cluster's discovery).
	Scope string
	// LabelSelector is spec.source.labelSelector in the string form sent to the API server;
	// empty selects everything.
	LabelSelector string
	// Namespaces is the compiled spec.source.namespaces.
	Namespaces NamespaceFilter
	// Collection holds the collection settings with defaults applied.
	Collection Collection
	// RBAC holds the access settings with defaults applied.
	RBAC RBAC

	specJSON    []byte // canonical JSON of the normalised spec, for Hash and MarshalJSON
	fields      []*Field
	computed    []computedField // in evaluation (dependency) order
	aggregators []*Aggregator
	names       []string // fields then computed fields, in spec order
}

// computedField is one compiled computed field. slot is its index in the variable vector:
// fields take slots 0..len(fields)-1, computed fields the following ones in spec order.
type computedField struct {
	name string
	typ  string
	slot int
	prog *expr.Program
}

// FieldNames returns the names of the extracted fields followed by the computed fields, in
// spec order: the keys of every collected resource's values.
func (c *Compiled) FieldNames() []string { return slices.Clone(c.names) }

// Aggregators returns the compiled aggregations in spec order (the API recomputes them over a
// filtered subset with the same code).
func (c *Compiled) Aggregators() []*Aggregator { return slices.Clone(c.aggregators) }

// Aggregate computes every aggregation of c over resources, by name: the collection's
// results, and the API's recomputation over the subset a filtered caller may see.
func (c *Compiled) Aggregate(resources []engine.CustomResource) map[string]any {
	values := make(map[string]any, len(c.aggregators))
	for _, a := range c.aggregators {
		values[a.Name()] = a.Compute(resources)
	}
	return values
}

// FieldError is one problem of a MetricSource spec.
type FieldError struct {
	// Field is the path of the offending spec field, e.g. "spec.fields[2].path".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "field: msg".
func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// CompileError lists every problem Compile found in a spec, in spec order, so that the status
// can report each field. It wraps engine.ErrInvalid.
type CompileError struct {
	Problems []FieldError
}

// Error joins the problems with "; ".
func (e *CompileError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid MetricSource: " + strings.Join(parts, "; ")
}

// Unwrap returns engine.ErrInvalid.
func (e *CompileError) Unwrap() error { return engine.ErrInvalid }

// Compile compiles ms with the production Options. See CompileWithOptions.
func Compile(ms *kube.MetricSource) (*Compiled, error) {
	return CompileWithOptions(ms, Options{})
}

// CompileWithOptions validates and compiles ms. On any problem it returns a *CompileError
// listing every problem found, each naming the spec field: missing apiVersion or kind, no
// fields, empty or duplicate names, a computed name that collides with a field, a path that
// does not parse, a bad type or default, an expression that does not parse or names an
// unknown identifier or function or has the wrong number of arguments, a dependency cycle
// among computed fields, an aggregation on an unknown field or with a bad function, percentile
// or filter, a bad namespace pattern or label selector, a setting below its minimum.
//
// Computed fields may reference each other in any order: they are evaluated in dependency
// order (a topological sort; among independent fields the spec order is kept).
func CompileWithOptions(ms *kube.MetricSource, opts Options) (*Compiled, error) {
	if ms == nil {
		return nil, fmt.Errorf("compile MetricSource: nil: %w", engine.ErrInvalid)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	b := &builder{now: now}
	spec := normalize(ms.Spec)
	c := &Compiled{
		Name:       ms.Name,
		Namespace:  ms.Namespace,
		ID:         sourceID(ms.Namespace, ms.Name),
		CompiledAt: now().UTC(),
	}
	if ms.Name == "" {
		b.add("metadata.name", "name is required")
	}
	b.source(c, spec.Source)
	b.fields(c, spec.Fields)
	b.computedFields(c, spec.Computed)
	b.aggregations(c, spec.Aggregations)
	b.collection(c, spec.Collection)
	b.rbac(c, spec.RBAC)
	if len(b.problems) > 0 {
		return nil, &CompileError{Problems: b.problems}
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("compile MetricSource %q: encode spec: %w", c.ID, err)
	}
	sum := sha256.Sum256(data)
	c.specJSON = data
	c.Hash = hex.EncodeToString(sum[:])[:16]
	return c, nil
}

// sourceID is the MetricSource's id: "namespace/name", or "name" without a namespace.
func sourceID(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// normalize returns a deep copy of spec with the defaults applied, the form that is hashed and
// stored. Copying through JSON keeps it independent of the caller's object.
func normalize(in kube.MetricSourceSpec) kube.MetricSourceSpec {
	var spec kube.MetricSourceSpec
	if data, err := json.Marshal(in); err == nil {
		// Both directions use the same Go types, so this cannot fail; if it ever did, the
		// zero spec would be reported field by field as missing.
		_ = json.Unmarshal(data, &spec)
	}
	if spec.Source.Scope == "" {
		spec.Source.Scope = ScopeNamespaced
	}
	for i := range spec.Fields {
		if spec.Fields[i].Type == "" {
			spec.Fields[i].Type = FieldString
		}
	}
	for i := range spec.Computed {
		if spec.Computed[i].Type == "" {
			spec.Computed[i].Type = "float"
		}
	}
	col := &spec.Collection
	setDefault(&col.IntervalSeconds, DefaultIntervalSeconds)
	setDefault(&col.TimeoutSeconds, DefaultTimeoutSeconds)
	setDefault(&col.MaxResources, DefaultMaxResources)
	setDefault(&col.BatchSize, DefaultBatchSize)
	setDefault(&col.Parallelism, DefaultParallelism)
	// RetryAttempts keeps an explicit 0 ("never retry"): the field is omitempty, so 0 and
	// "unset" look alike here, and the CRD defaults an unset value to 3 before we see it.
	if spec.RBAC.FilterAggregations == nil {
		t := true
		spec.RBAC.FilterAggregations = &t
	}
	if spec.Source.Namespaces != nil && len(spec.Source.Namespaces.Include) == 0 && len(spec.Source.Namespaces.Exclude) == 0 {
		spec.Source.Namespaces = nil
	}
	return spec
}

func setDefault(v *int32, def int32) {
	if *v == 0 {
		*v = def
	}
}

// builder accumulates the problems of one compilation.
type builder struct {
	now      func() time.Time
	problems []FieldError
	// slots maps every field and computed-field name to its variable slot.
	slots map[string]int
}

func (b *builder) add(field, format string, args ...any) {
	b.problems = append(b.problems, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) source(c *Compiled, src kube.ResourceTarget) {
	c.APIVersion, c.Kind, c.Scope = src.APIVersion, src.Kind, src.Scope
	if src.APIVersion == "" {
		b.add("spec.source.apiVersion", "apiVersion is required")
	} else if gv, err := schema.ParseGroupVersion(src.APIVersion); err != nil || gv.Version == "" || strings.ContainsAny(src.APIVersion, " \t") {
		b.add("spec.source.apiVersion", "apiVersion %q is not \"v1\" or \"group/version\"", src.APIVersion)
	} else {
		c.GroupVersion = gv
	}
	if src.Kind == "" {
		b.add("spec.source.kind", "kind is required")
	} else if strings.ContainsAny(src.Kind, " ./\t") {
		b.add("spec.source.kind", "kind %q is not a Kubernetes kind name", src.Kind)
	}
	if src.Scope != ScopeNamespaced && src.Scope != ScopeCluster {
		b.add("spec.source.scope", "scope %q is not Namespaced or Cluster", src.Scope)
	}
	if src.Namespaces != nil {
		f, problems := newNamespaceFilter(src.Namespaces.Include, src.Namespaces.Exclude)
		for _, p := range problems {
			b.add("spec.source.namespaces."+p.Field, "%s", p.Msg)
		}
		c.Namespaces = f
	}
	if src.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(src.LabelSelector)
		if err != nil {
			b.add("spec.source.labelSelector", "%v", err)
		} else {
			c.LabelSelector = sel.String()
		}
	}
}

func (b *builder) fields(c *Compiled, fields []kube.FieldExtraction) {
	b.slots = make(map[string]int, len(fields))
	if len(fields) == 0 {
		b.add("spec.fields", "at least one field is required")
	}
	for i, f := range fields {
		at := fmt.Sprintf("spec.fields[%d]", i)
		ok := true
		switch _, dup := b.slots[f.Name]; {
		case f.Name == "":
			b.add(at+".name", "name is required")
			ok = false
		case dup:
			b.add(at+".name", "duplicate field name %q", f.Name)
			ok = false
		default:
			b.slots[f.Name] = i
		}
		switch f.Type {
		case FieldString, FieldInteger, FieldFloat, FieldBoolean, FieldQuantity, FieldTimestamp, FieldArrayLength:
		default:
			b.add(at+".type", "unknown type %q (want string, integer, float, boolean, quantity, timestamp or arrayLength)", f.Type)
			ok = false
		}
		if f.Path == "" {
			b.add(at+".path", "path is required")
			ok = false
		} else if _, err := ParsePath(f.Path); err != nil {
			b.add(at+".path", "%v", err)
			ok = false
		}
		if !ok {
			continue
		}
		field, err := NewField(f)
		if err != nil {
			// Name, type and path were checked above, so what is left is the default.
			where := at
			if f.Default != nil {
				where += ".default"
			}
			b.add(where, "%v", err)
			continue
		}
		c.fields = append(c.fields, field)
		c.names = append(c.names, f.Name)
	}
}

// computedFields parses every expression, checks names and identifiers, orders the fields by
// their dependencies and compiles them in that order.
func (b *builder) computedFields(c *Compiled, computed []kube.ComputedField) {
	nf := len(b.slots)
	parsed := make([]*expr.Expr, len(computed))
	index := make(map[string]int, len(computed)) // computed name → spec index
	for i, cf := range computed {
		at := fmt.Sprintf("spec.computed[%d]", i)
		_, isField := b.slots[cf.Name]
		_, dup := index[cf.Name]
		switch {
		case cf.Name == "":
			b.add(at+".name", "name is required")
		case isField:
			b.add(at+".name", "computed field %q has the name of an extracted field", cf.Name)
		case dup:
			b.add(at+".name", "duplicate computed field name %q", cf.Name)
		default:
			index[cf.Name] = i
		}
		switch cf.Type {
		case "string", "integer", "float", "boolean":
		default:
			b.add(at+".type", "unknown type %q (want string, integer, float or boolean)", cf.Type)
		}
		if cf.Expression == "" {
			b.add(at+".expression", "expression is required")
			continue
		}
		e, err := expr.Parse(cf.Expression)
		if err != nil {
			b.add(at+".expression", "%v", err)
			continue
		}
		parsed[i] = e
	}
	// Identifiers: every name must be a field or a computed field; edges between computed
	// fields feed the dependency order.
	deps := make([][]int, len(computed))
	for i, e := range parsed {
		if e == nil {
			continue
		}
		for _, id := range e.Identifiers() {
			if _, ok := b.slots[id]; ok {
				continue
			}
			if j, ok := index[id]; ok {
				deps[i] = append(deps[i], j)
				continue
			}
			b.add(fmt.Sprintf("spec.computed[%d].expression", i), "unknown identifier %q (not a field or computed field)", id)
			parsed[i] = nil
		}
	}
	order, cycles := topoSort(len(computed), deps)
	for _, cyc := range cycles {
		names := make([]string, len(cyc))
		for k, j := range cyc {
			names[k] = computed[j].Name
		}
		b.add(fmt.Sprintf("spec.computed[%d].expression", cyc[0]), "dependency cycle among computed fields: %s", strings.Join(names, " -> "))
	}
	slots := make(map[string]int, nf+len(computed))
	for name, s := range b.slots {
		slots[name] = s
	}
	for name, i := range index {
		slots[name] = nf + i
	}
	resolve := func(name string) (int, bool) {
		s, ok := slots[name]
		return s, ok
	}
	for _, i := range order {
		if parsed[i] == nil {
			continue
		}
		prog, err := expr.Compile(parsed[i], resolve, expr.Options{Now: b.now})
		if err != nil {
			b.add(fmt.Sprintf("spec.computed[%d].expression", i), "%v", err)
			continue
		}
		c.computed = append(c.computed, computedField{name: computed[i].Name, typ: computed[i].Type, slot: nf + i, prog: prog})
	}
	for _, cf := range computed {
		c.names = append(c.names, cf.Name)
	}
	b.slots = slots
}

// topoSort orders n nodes so that every node comes after the nodes it depends on, keeping the
// spec order where dependencies allow. It returns the order of the nodes not on a cycle, and
// every cycle found (node indices, the first repeated at the end).
func topoSort(n int, deps [][]int) (order []int, cycles [][]int) {
	const (
		unvisited = iota
		active
		done
		onCycle
	)
	state := make([]int, n)
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		switch state[i] {
		case done, onCycle:
			return
		case active:
			start := slices.Index(stack, i)
			cyc := append(slices.Clone(stack[start:]), i)
			cycles = append(cycles, cyc)
			for _, j := range stack[start:] {
				state[j] = onCycle
			}
			return
		}
		state[i] = active
		stack = append(stack, i)
		for _, j := range deps[i] {
			visit(j)
		}
		stack = stack[:len(stack)-1]
		if state[i] == active {
			state[i] = done
			blocked := false
			for _, j := range deps[i] {
				if state[j] == onCycle {
					blocked = true
				}
			}
			if !blocked {
				order = append(order, i)
			}
		}
	}
	for i := 0; i < n; i++ {
		visit(i)
	}
	return order, cycles
}

var aggregationFunctions = []string{"count", "sum", "avg", "min", "max", "percentile", "distinct"}

var filterOperators = []string{"equals", "notEquals", "contains", "startsWith", "endsWith", "greaterThan", "lessThan", "in", "matches"}

// knownField reports whether an aggregation may read name: a field, a computed field, one of
// the built-ins namespace and name, or labels.<key>.
func (b *builder) knownField(name string) bool {
	if _, ok := b.slots[name]; ok {
		return true
	}
	if name == builtinNamespace || name == builtinName {
		return true
	}
	return strings.HasPrefix(name, labelsPrefix) && len(name) > len(labelsPrefix)
}

func (b *builder) aggregations(c *Compiled, aggs []kube.Aggregation) {
	seen := make(map[string]bool, len(aggs))
	for i, a := range aggs {
		at := fmt.Sprintf("spec.aggregations[%d]", i)
		n := len(b.problems)
		switch {
		case a.Name == "":
			b.add(at+".name", "name is required")
		case seen[a.Name]:
			b.add(at+".name", "duplicate aggregation name %q", a.Name)
		}
		seen[a.Name] = true
		knownFunction := slices.Contains(aggregationFunctions, a.Function)
		if !knownFunction {
			b.add(at+".function", "unknown function %q (want %s)", a.Function, strings.Join(aggregationFunctions, ", "))
		}
		switch {
		case a.Field == "" && knownFunction && a.Function != "count":
			b.add(at+".field", "field is required for function %q", a.Function)
		case a.Field != "" && !b.knownField(a.Field):
			b.add(at+".field", "unknown field %q (not a field, a computed field, namespace, name or labels.<key>)", a.Field)
		}
		if a.GroupBy != "" && !b.knownField(a.GroupBy) {
			b.add(at+".groupBy", "unknown field %q (not a field, a computed field, namespace, name or labels.<key>)", a.GroupBy)
		}
		if a.Function == "percentile" {
			switch {
			case a.Percentile == nil:
				b.add(at+".percentile", "percentile (1..100) is required for function percentile")
			case *a.Percentile < 1 || *a.Percentile > 100:
				b.add(at+".percentile", "percentile %d is outside 1..100", *a.Percentile)
			}
		}
		if f := a.Filter; f != nil {
			if f.Field == "" {
				b.add(at+".filter.field", "field is required")
			} else if !b.knownField(f.Field) {
				b.add(at+".filter.field", "unknown field %q (not a field, a computed field, namespace, name or labels.<key>)", f.Field)
			}
			if !slices.Contains(filterOperators, f.Operator) {
				b.add(at+".filter.operator", "unknown operator %q (want %s)", f.Operator, strings.Join(filterOperators, ", "))
			} else if f.Operator == "matches" {
				if _, err := regexp.Compile(f.Value); err != nil {
					b.add(at+".filter.value", "bad regular expression: %v", err)
				}
			}
		}
		if len(b.problems) > n {
			continue
		}
		agg, err := NewAggregator(a)
		if err != nil {
			b.add(at, "%v", err)
			continue
		}
		c.aggregators = append(c.aggregators, agg)
	}
}

func (b *builder) collection(c *Compiled, col kube.CollectionConfig) {
	check := func(name string, v, min int32) {
		if v < min {
			b.add("spec.collection."+name, "%d is below the minimum %d", v, min)
		}
	}
	check("intervalSeconds", col.IntervalSeconds, minIntervalSeconds)
	check("timeoutSeconds", col.TimeoutSeconds, minTimeoutSeconds)
	check("maxResources", col.MaxResources, 1)
	check("batchSize", col.BatchSize, minBatchSize)
	check("retryAttempts", col.RetryAttempts, 0)
	check("parallelism", col.Parallelism, 1)
	c.Collection = Collection{
		Interval:      time.Duration(col.IntervalSeconds) * time.Second,
		Timeout:       time.Duration(col.TimeoutSeconds) * time.Second,
		MaxResources:  int(col.MaxResources),
		BatchSize:     int(col.BatchSize),
		RetryAttempts: int(col.RetryAttempts),
		Parallelism:   int(col.Parallelism),
	}
}

func (b *builder) rbac(c *Compiled, r kube.MetricSourceRBAC) {
	if r.ResourceTypeName == "" {
		b.add("spec.rbac.resourceTypeName", "resourceTypeName is required")
	}
	c.RBAC = RBAC{
		ResourceTypeName:   r.ResourceTypeName,
		FilterableFields:   slices.Clone(r.FilterableFields),
		FilterAggregations: r.FilterAggregations == nil || *r.FilterAggregations,
	}
}

// definition is the JSON form of a Compiled source stored at metricsource:{ns}:{name}: the
// original's shape (reference §7.2) plus the normalised spec, from which Load recompiles.
// The original's fields[].pathSegments and source.resource are left out: paths are reparsed
// from the spec, and the resource name is resolved per cluster with discovery.
type definition struct {
	Name         string               `json:"name"`
	Namespace    string               `json:"namespace"`
	Source       definitionSource     `json:"source"`
	Fields       []definitionField    `json:"fields"`
	Computed     []kube.ComputedField `json:"computed"`
	Aggregations []kube.Aggregation   `json:"aggregations"`
	Collection   definitionCollection `json:"collection"`
	RBAC         definitionRBAC       `json:"rbac"`
	CompiledAt   engine.Time          `json:"compiledAt"`
	Hash         string               `json:"hash"`
	Spec         json.RawMessage      `json:"spec"`
}

type definitionSource struct {
	APIVersion    string                  `json:"apiVersion"`
	Kind          string                  `json:"kind"`
	Scope         string                  `json:"scope"`
	Group         string                  `json:"group"`
	Version       string                  `json:"version"`
	LabelSelector string                  `json:"labelSelector,omitempty"`
	Namespaces    *kube.NamespaceSelector `json:"namespaces,omitempty"`
}

type definitionField struct {
	Name    string  `json:"name"`
	Path    string  `json:"path"`
	Type    string  `json:"type"`
	Default *string `json:"default,omitempty"`
	Index   int     `json:"index"`
}

type definitionCollection struct {
	IntervalSeconds int32 `json:"intervalSeconds"`
	TimeoutSeconds  int32 `json:"timeoutSeconds"`
	MaxResources    int32 `json:"maxResources"`
	BatchSize       int32 `json:"batchSize"`
	RetryAttempts   int32 `json:"retryAttempts"`
	Parallelism     int32 `json:"parallelism"`
}

type definitionRBAC struct {
	ResourceTypeName   string   `json:"resourceTypeName"`
	FilterableFields   []string `json:"filterableFields,omitempty"`
	FilterAggregations bool     `json:"filterAggregations"`
}

// MarshalJSON writes the stored form of c (the original's metricsource:{ns}:{name} JSON plus
// the normalised spec under "spec"), which Load reads back.
func (c *Compiled) MarshalJSON() ([]byte, error) {
	var spec kube.MetricSourceSpec
	if err := json.Unmarshal(c.specJSON, &spec); err != nil {
		return nil, fmt.Errorf("encode MetricSource %q: %w", c.ID, err)
	}
	d := definition{
		Name:      c.Name,
		Namespace: c.Namespace,
		Source: definitionSource{
			APIVersion:    spec.Source.APIVersion,
			Kind:          spec.Source.Kind,
			Scope:         spec.Source.Scope,
			Group:         c.GroupVersion.Group,
			Version:       c.GroupVersion.Version,
			LabelSelector: c.LabelSelector,
			Namespaces:    spec.Source.Namespaces,
		},
		Fields:       make([]definitionField, len(spec.Fields)),
		Computed:     spec.Computed,
		Aggregations: spec.Aggregations,
		Collection: definitionCollection{
			IntervalSeconds: spec.Collection.IntervalSeconds,
			TimeoutSeconds:  spec.Collection.TimeoutSeconds,
			MaxResources:    spec.Collection.MaxResources,
			BatchSize:       spec.Collection.BatchSize,
			RetryAttempts:   spec.Collection.RetryAttempts,
			Parallelism:     spec.Collection.Parallelism,
		},
		RBAC: definitionRBAC{
			ResourceTypeName:   c.RBAC.ResourceTypeName,
			FilterableFields:   c.RBAC.FilterableFields,
			FilterAggregations: c.RBAC.FilterAggregations,
		},
		CompiledAt: engine.NewTime(c.CompiledAt),
		Hash:       c.Hash,
		Spec:       c.specJSON,
	}
	for i, f := range spec.Fields {
		d.Fields[i] = definitionField{Name: f.Name, Path: f.Path, Type: f.Type, Default: f.Default, Index: i}
	}
	if d.Computed == nil {
		d.Computed = []kube.ComputedField{}
	}
	if d.Aggregations == nil {
		d.Aggregations = []kube.Aggregation{}
	}
	return json.Marshal(d)
}

// Load reads the stored form written by MarshalJSON and recompiles the source from its spec,
// keeping the stored CompiledAt. Errors wrap engine.ErrInvalid (a *CompileError when the
// stored spec no longer compiles).
func Load(data []byte) (*Compiled, error) {
	return LoadWithOptions(data, Options{})
}

// LoadWithOptions is Load with compile Options.
func LoadWithOptions(data []byte, opts Options) (*Compiled, error) {
	var d definition
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode stored MetricSource: %w: %w", engine.ErrInvalid, err)
	}
	if len(d.Spec) == 0 {
		return nil, fmt.Errorf("decode stored MetricSource %q: no spec: %w", sourceID(d.Namespace, d.Name), engine.ErrInvalid)
	}
	ms := &kube.MetricSource{}
	ms.Name, ms.Namespace = d.Name, d.Namespace
	if err := json.Unmarshal(d.Spec, &ms.Spec); err != nil {
		return nil, fmt.Errorf("decode stored MetricSource %q spec: %w: %w", sourceID(d.Namespace, d.Name), engine.ErrInvalid, err)
	}
	c, err := CompileWithOptions(ms, opts)
	if err != nil {
		return nil, err
	}
	if !d.CompiledAt.IsZero() {
		c.CompiledAt = d.CompiledAt.Time
	}
	return c, nil
}
