package expr

import (
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// BenchmarkEval compares one evaluation of the same four expressions in this engine and in
// cel-go, each with everything prepared ahead (parsed, checked, compiled, variables bound), so
// that only evaluation is timed. CEL gets its fastest settings: OptOptimize and a prebuilt
// activation.
func BenchmarkEval(b *testing.B) {
	// benchVars are the variables of the benchmark, the same for both engines.
	benchVars := map[string]any{
		"used":      12.5,
		"capacity":  40.0,
		"a":         nil,
		"b":         2.5,
		"namespace": "kube-system",
		"name":      "coredns-7db6d8ff4d-abcde",
		"ns":        "kube-system", // namespace is a reserved word in CEL
	}

	// benchCases pairs each expression with its CEL equivalent and the common result.
	//   - round(x, 2): CEL has no decimals argument; ext.Math's math.round rounds half away from
	//     zero like ours, so round(x, 2) is written math.round(x * 100.0) / 100.0.
	//   - coalesce(a, 0): CEL has no coalesce over null; a and b are declared dyn and the
	//     equivalent is the ternary (a != null ? a : 0.0).
	//   - concat: CEL concatenates strings with +; namespace is a reserved word in CEL, so the CEL
	//     variable is called ns.
	//
	// Number literals are written as doubles in CEL (100.0) because CEL does not mix int and double.
	benchCases := []struct {
		name, ours, cel string
		want            any
	}{
		{"ratio", "used / capacity * 100", "used / capacity * 100.0", 31.25},
		{"round", "round(used / capacity * 100, 2)", "math.round(used / capacity * 100.0 * 100.0) / 100.0", 31.25},
		{"coalesce", "coalesce(a, 0) + coalesce(b, 0)", "(a != null ? a : 0.0) + (b != null ? b : 0.0)", 2.5},
		{"concat", "concat(namespace, '/', name)", "ns + '/' + name", "kube-system/coredns-7db6d8ff4d-abcde"},
	}
	env, err := cel.NewEnv(
		cel.Variable("used", cel.DoubleType),
		cel.Variable("capacity", cel.DoubleType),
		cel.Variable("a", cel.DynType),
		cel.Variable("b", cel.DynType),
		cel.Variable("ns", cel.StringType),
		cel.Variable("name", cel.StringType),
		ext.Math(),
	)
	if err != nil {
		b.Fatal(err)
	}
	act, err := interpreter.NewActivation(benchVars)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range benchCases {
		b.Run(bc.name+"/expr", func(b *testing.B) {
			p, vars, err := compileVars(b, bc.ours, benchVars)
			if err != nil {
				b.Fatal(err)
			}
			if got, err := p.Eval(vars); err != nil || got.Interface() != bc.want {
				b.Fatalf("Eval(%q) = %#v, %v; want %v", bc.ours, got, err, bc.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, _ = p.Eval(vars)
			}
		})
		b.Run(bc.name+"/cel", func(b *testing.B) {
			ast, iss := env.Compile(bc.cel)
			if iss.Err() != nil {
				b.Fatal(iss.Err())
			}
			prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
			if err != nil {
				b.Fatal(err)
			}
			if got, _, err := prg.Eval(act); err != nil || got.Value() != bc.want {
				b.Fatalf("CEL Eval(%q) = %v, %v; want %v", bc.cel, got, err, bc.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, _, _ = prg.Eval(act)
			}
		})
	}
}
