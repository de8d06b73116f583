package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

func TestWalkThroughLoadsOncePerStep(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), redistest.Client(t), redistest.Prefix(t), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"100 concurrent callers of a cold key: 1 load\n",
		"batch of 5 keys (2 cached): 1 loader call\n",
		"after invalidating the tag \"products\": 1 load\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
