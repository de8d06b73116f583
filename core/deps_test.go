package core

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsNoFrameworkNorSibling keeps dependencies pointing inward:
// core knows go-redis, x/sync, msgpack, the standard library and the
// project's leaf of wire-format primitives only.
func TestCoreImportsNoFrameworkNorSibling(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/swrcache/swrcache/"
	banned := []string{"github.com/labstack/echo", "github.com/gin-gonic/gin", "github.com/sony/gobreaker",
		mod + "adapters", mod + "middleware", mod + "keyfunc", mod + "breaker", mod + "internal"}
	for _, p := range strings.Fields(string(out)) {
		if p == mod+"internal/wire" {
			continue
		}
		for _, b := range banned {
			if strings.HasPrefix(p, b) {
				t.Errorf("core depends on %s", p)
			}
		}
	}
}
