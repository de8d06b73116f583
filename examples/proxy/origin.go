package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fileText is what GET /file.txt serves, with ranges.
const fileText = "0123456789abcdefghijklmnopqrstuvwxyz\n"

// newOrigin returns the demo upstream: a few paths, each showing one way an
// origin tells caches what to do.
func newOrigin() http.Handler {
	var calls atomic.Int64 // every request the origin answered
	var mu sync.Mutex
	items := []string{"apple"} // protected by mu
	started := time.Now()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=30") // fresh for 30 s, for every cache
		fmt.Fprintf(w, "hello from the origin at %s (call %d)\n", time.Now().Format(time.TimeOnly), calls.Add(1))
	})
	mux.HandleFunc("GET /file.txt", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Etag", `"file-v1"`) // ServeContent answers If-None-Match, If-Range and Range with it
		http.ServeContent(w, r, "file.txt", started, strings.NewReader(fileText))
	})
	mux.HandleFunc("GET /news", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		n := len(items)
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-cache")         // store it, but ask me before each use
		w.Header().Set("Etag", fmt.Sprintf(`"news-%d"`, n)) // a new one after each POST /items
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(fmt.Sprintf("%d items in stock\n", n)))
	})
	mux.HandleFunc("GET /swr", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=5, stale-while-revalidate=60")
		fmt.Fprintf(w, "made at %s (call %d)\n", time.Now().Format(time.TimeOnly), calls.Add(1))
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		list := strings.Join(items, "\n")
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintln(w, list)
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
		item := strings.TrimSpace(string(b))
		if err != nil || item == "" {
			http.Error(w, "the body is the item's name, at most 1 KiB", http.StatusBadRequest)
			return
		}
		mu.Lock()
		items = append(items, item)
		mu.Unlock()
		w.Header().Set("Location", "/items")
		w.WriteHeader(http.StatusCreated) // a 2xx to a POST: caches drop GET /items (RFC 9111 section 4.4)
	})
	return mux
}
