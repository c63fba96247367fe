// Package expr is the MetricSource expression language: the small language in which a
// MetricSource declares computed fields such as `round(used / capacity * 100, 2)`.
//
// The package parses source text into an Expr (syntax only), compiles an Expr against the
// variables a caller knows into a Program (a closure tree built once), and evaluates a Program
// over a slice of Values indexed by the slots the caller assigned. The semantics are those of
// the design document EXPRESSIONS.md; docs/expressions.md documents them for users.
//
// Guarantees, kept by construction rather than by recover:
//   - every character outside the grammar is a *SyntaxError carrying its code-point position;
//     unknown identifiers, unknown functions and wrong arity are compile errors;
//   - evaluation never panics, never returns NaN, ±Inf or −0, never builds a string longer than
//     MaxStringLen code points, and never recurses deeper than the parse-time nesting limit
//     MaxDepth (long flat chains such as a + b + c are fine);
//   - evaluating an expression whose intermediate values are numbers and bools allocates nothing.
//
// Package expr is a leaf: it imports only the standard library and must not import anything of
// ClusterPulse (cel-go appears only in the benchmark test file).
package expr
