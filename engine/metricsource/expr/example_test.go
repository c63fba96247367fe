package expr_test

import (
	"fmt"
	"slices"

	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
)

func Example() {
	e, err := expr.Parse("round(coalesce(used / capacity, 0) * 100, 2)")
	if err != nil {
		fmt.Println(err)
		return
	}
	names := e.Identifiers() // [capacity used]
	resolve := func(name string) (int, bool) {
		i := slices.Index(names, name)
		return i, i >= 0
	}
	p, err := expr.Compile(e, resolve, expr.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, row := range [][2]any{{int64(3), 8}, {0, 0}, {"12", "16"}} {
		vars := make([]expr.Value, len(names))
		vars[0], _ = expr.FromInterface(row[1]) // capacity
		vars[1], _ = expr.FromInterface(row[0]) // used
		v, err := p.Eval(vars)
		if err != nil {
			fmt.Println(err)
			continue
		}
		v, _ = expr.Coerce(v, "float")
		fmt.Println(v.Interface())
	}

	_, err = expr.Parse("a = b")
	fmt.Println(err)
	// Output:
	// 37.5
	// 0
	// 75
	// at position 2: unexpected character '=' (did you mean '=='?)
}
