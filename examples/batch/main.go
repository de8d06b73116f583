// Command batch removes an N+1 with core.FetchMany: GET /orders lists 20
// orders, each with its customer, and the customers come from the cache,
// the misses loaded with one query (a pretend SELECT ... WHERE id IN (...)).
//
//	go run ./examples/batch          # prints naive vs FetchMany, cold and warm
//	go run ./examples/batch -serve   # then serves GET /orders on ADDR
//
// ADDR defaults to 127.0.0.1:8080. It uses REDIS_URL, else a Redis on
// 127.0.0.1:6379, else an embedded in-memory Redis (miniredis), and says
// which.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/exampleapp"
)

type customer struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type order struct {
	ID         int      `json:"id"`
	CustomerID int      `json:"-"`
	Total      float64  `json:"total"`
	Customer   customer `json:"customer"`
}

// orders are the 20 orders, placed by 8 customers.
var orders = func() []order {
	out := make([]order, 20)
	for i := range out {
		out[i] = order{ID: 1001 + i, CustomerID: i%8 + 1, Total: float64(10 + i)}
	}
	return out
}()

// customerDB is the pretend database: every query takes delay, whatever
// it asks for, and is counted.
type customerDB struct {
	delay time.Duration
	calls atomic.Int32
}

// byIDs is SELECT id, name FROM customers WHERE id IN (ids...).
func (db *customerDB) byIDs(ctx context.Context, ids []int) (map[int]customer, error) {
	db.calls.Add(1)
	select {
	case <-time.After(db.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := make(map[int]customer, len(ids))
	for _, id := range ids {
		out[id] = customer{ID: id, Name: fmt.Sprintf("customer %d", id)}
	}
	return out, nil
}

// customerPolicy caches customers for a minute, then serves them stale for
// ten more while one batch refreshes them.
var customerPolicy = core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute, Tags: []string{"customers"}}

func customerKey(id int) string { return "customer:" + strconv.Itoa(id) }

// listOrders attaches the customers with one FetchMany: one pipelined read
// for all of them, and one byIDs call for those not in the cache.
func listOrders(ctx context.Context, e *core.Engine, db *customerDB) ([]order, error) {
	keys := make([]string, len(orders))
	for i, o := range orders {
		keys[i] = customerKey(o.CustomerID) // FetchMany drops the duplicates
	}
	found, err := core.FetchMany(ctx, e, keys, customerPolicy,
		func(ctx context.Context, missing []string) (map[string]customer, error) {
			ids := make([]int, 0, len(missing))
			for _, k := range missing {
				id, err := strconv.Atoi(strings.TrimPrefix(k, "customer:"))
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
			rows, err := db.byIDs(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make(map[string]customer, len(rows))
			for id, c := range rows {
				out[customerKey(id)] = c
			}
			return out, nil
		})
	if err != nil {
		return nil, err
	}
	return attach(found, keys)
}

func attach(found map[string]customer, keys []string) ([]order, error) {
	out := make([]order, len(orders))
	for i, o := range orders {
		c, ok := found[keys[i]]
		if !ok {
			return nil, fmt.Errorf("order %d: customer %d not found", o.ID, o.CustomerID)
		}
		o.Customer = c
		out[i] = o
	}
	return out, nil
}

// listOrdersNaive is the N+1: one query per order.
func listOrdersNaive(ctx context.Context, db *customerDB) ([]order, error) {
	out := make([]order, len(orders))
	for i, o := range orders {
		rows, err := db.byIDs(ctx, []int{o.CustomerID})
		if err != nil {
			return nil, err
		}
		o.Customer = rows[o.CustomerID]
		out[i] = o
	}
	return out, nil
}

// ordersHandler serves GET /orders.
func ordersHandler(e *core.Engine, db *customerDB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		list, err := listOrders(r.Context(), e, db)
		if err != nil {
			http.Error(w, "could not list orders", http.StatusInternalServerError)
			log.Printf("GET /orders: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	})
	return mux
}

// run prints the naive loop against FetchMany, cold then warm, with the
// loader calls each made and the time each took.
func run(ctx context.Context, e *core.Engine, db *customerDB, w io.Writer) error {
	measure := func(label string, list func() ([]order, error)) error {
		db.calls.Store(0)
		start := time.Now()
		got, err := list()
		if err != nil {
			return err
		}
		took := time.Since(start)
		n := db.calls.Load()
		fmt.Fprintf(w, "%-16s %2d %s, %-8v (%d orders)\n", label+":", n, plural(n, "load"), round(took), len(got))
		return nil
	}
	distinct := make(map[int]bool)
	for _, o := range orders {
		distinct[o.CustomerID] = true
	}
	fmt.Fprintf(w, "%d orders from %d customers, %v per query\n", len(orders), len(distinct), db.delay)
	if err := measure("naive", func() ([]order, error) { return listOrdersNaive(ctx, db) }); err != nil {
		return err
	}
	if err := measure("FetchMany cold", func() ([]order, error) { return listOrders(ctx, e, db) }); err != nil {
		return err
	}
	return measure("FetchMany warm", func() ([]order, error) { return listOrders(ctx, e, db) })
}

func plural(n int32, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// round keeps durations readable: 2.003s, 100.4ms, 612µs.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func main() {
	serve := flag.Bool("serve", false, "serve GET /orders on ADDR after the comparison")
	flag.Parse()
	rdb, stop := exampleapp.Redis()
	defer stop()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ns := fmt.Sprintf("swr-example:batch:%d:", time.Now().UnixNano()) // a cold cache every run
	e, err := core.New(core.Config{Client: rdb, Namespace: ns, Breaker: br})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close(ctx)
	db := &customerDB{delay: 100 * time.Millisecond}
	if err := run(ctx, e, db, os.Stdout); err != nil {
		log.Fatal(err)
	}
	if !*serve {
		return
	}
	addr := cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080")
	fmt.Printf("\nserving; try: curl -s http://%s/orders\n", addr)
	srv := &http.Server{Addr: addr, Handler: ordersHandler(e, db), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
