package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

func newEngine(t *testing.T) *core.Engine {
	t.Helper()
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func getOrders(t *testing.T, h http.Handler) []order {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/orders", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /orders: %d %s", rec.Code, rec.Body)
	}
	var list []order
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func TestOneLoaderCallColdNoneWarm(t *testing.T) {
	db := &customerDB{delay: 10 * time.Millisecond}
	h := ordersHandler(newEngine(t), db)

	cold := getOrders(t, h)
	if n := db.calls.Load(); n != 1 {
		t.Errorf("cold: %d loader calls, want 1", n)
	}
	if len(cold) != 20 {
		t.Fatalf("got %d orders, want 20", len(cold))
	}
	for _, o := range cold {
		if o.Customer.ID == 0 || o.Customer.Name == "" {
			t.Errorf("order %d has no customer: %+v", o.ID, o)
		}
	}

	db.calls.Store(0)
	warm := getOrders(t, h)
	if n := db.calls.Load(); n != 0 {
		t.Errorf("warm: %d loader calls, want 0", n)
	}
	for i := range warm {
		if warm[i].Customer != cold[i].Customer {
			t.Errorf("order %d: warm customer %+v, cold %+v", warm[i].ID, warm[i].Customer, cold[i].Customer)
		}
	}
}

func TestRunPrintsTheComparison(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), newEngine(t), &customerDB{delay: time.Millisecond}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"naive:           20 loads", "FetchMany cold:   1 load,", "FetchMany warm:   0 loads"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
