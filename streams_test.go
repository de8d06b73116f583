package swrcache_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of this file check that a fill never buffers more than MaxBody:
// a large or flushed response streams to its own client from the first
// byte, is not stored, and lets the requests waiting on it go at once.

const (
	streamMaxBody = 1 << 20  // the routes' MaxBody
	bigBody       = 64 << 20 // the large response
	bigChunk      = 32 << 10
	streamWait    = 10 * time.Second // a generous bound on each ordering
)

// bigPage is the large response: bigBody bytes of a repeating pattern.
var bigPage = func() []byte {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), bigChunk/16)
	return chunk
}()

var bigSum = func() [32]byte {
	h := sha256.New()
	for range bigBody / bigChunk {
		h.Write(bigPage)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}()

// writeBig writes the large response from after on, calling pause once,
// when pauseAt bytes have been written.
func writeBig(w io.Writer, pauseAt int, pause func()) {
	for n := 0; n < bigBody; n += bigChunk {
		if n == pauseAt && pause != nil {
			pause()
		}
		if _, err := w.Write(bigPage); err != nil {
			return
		}
	}
}

// readBig reads a response body, calling first when its first byte has
// arrived, and reports whether it is the whole large response.
func readBig(t *testing.T, url string, first func()) (ok bool, status string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return false, ""
	}
	defer resp.Body.Close()
	b := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Error(err)
		return false, ""
	}
	if first != nil {
		first()
	}
	h := sha256.New()
	h.Write(b)
	n, err := io.Copy(h, resp.Body)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return err == nil && n+1 == bigBody && sum == bigSum, resp.Header.Get("Cache-Status")
}

// heapPeak samples the heap until stop is called and returns the most it
// grew above where it started.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak - base
	}
}

// Must show 2: a 64 MiB response reaches its client from its first bytes,
// before the handler has written the rest; the heap grows by a fraction of
// it; it is not stored.
func TestALargeResponseStreamsFromItsFirstBytesAndIsNotStored(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.MaxBody = streamMaxBody
			firstByte := make(chan struct{})
			var calls atomic.Int32
			var orderly atomic.Bool // the client had bytes before the handler went on
			srv := a.serve(t, newEngine(t, nil), cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				if calls.Add(1) > 1 {
					writeBig(w, 0, nil)
					return
				}
				writeBig(w, 2*streamMaxBody, func() {
					select {
					case <-firstByte:
						orderly.Store(true)
					case <-time.After(streamWait):
					}
				})
			}))
			peak := heapPeak()
			ok, status := readBig(t, srv.URL+"/big", func() { close(firstByte) })
			grew := peak()
			if !ok || !orderly.Load() {
				t.Fatalf("whole body %v, first bytes before the handler's third MiB %v (%s)", ok, orderly.Load(), status)
			}
			t.Logf("%s: the heap grew by %.1f MiB at most while a %d MiB response streamed (MaxBody %d MiB)",
				a.name, float64(grew)/(1<<20), bigBody>>20, streamMaxBody>>20)
			if grew > 16<<20 {
				t.Errorf("the heap grew by %d MiB: the fill buffered the response", grew>>20)
			}
			if ok, status := readBig(t, srv.URL+"/big", nil); !ok || !strings.Contains(status, "detail=uncacheable") || calls.Load() != 2 {
				t.Fatalf("second request: whole %v (%s) after %d calls, want the handler again, past the cache", ok, status, calls.Load())
			}
		})
	}
}

// Requests waiting on the fill of a response that turns out too large run
// the handler themselves as soon as it does, not when the fill ends.
func TestRequestsWaitingOnALargeResponseGoAsSoonAsItOverflows(t *testing.T) {
	const waiters = 3
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.MaxBody = streamMaxBody
			started, joined, waitersDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var calls atomic.Int32
			var leaderWaited atomic.Bool // the waiters were done while the leader's handler was past MaxBody
			srv := a.serve(t, newEngine(t, nil), cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > 1 {
					writeBig(w, 0, nil)
					return
				}
				for n := 0; n < bigBody; n += bigChunk {
					switch n {
					case streamMaxBody / 2:
						close(started)
						<-joined
					case 2 * streamMaxBody: // past MaxBody: the waiters have gone
						select {
						case <-waitersDone:
							leaderWaited.Store(true)
						case <-time.After(streamWait):
						}
					}
					if _, err := w.Write(bigPage); err != nil {
						return
					}
				}
			}))
			leader := make(chan bool, 1)
			go func() { ok, _ := readBig(t, srv.URL+"/big", nil); leader <- ok }()
			<-started
			var wg sync.WaitGroup
			whole := make(chan bool, waiters)
			for range waiters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, _ := readBig(t, srv.URL+"/big", nil)
					whole <- ok
				}()
			}
			time.Sleep(100 * time.Millisecond) // let them join the fill
			close(joined)
			wg.Wait()
			close(waitersDone)
			close(whole)
			for ok := range whole {
				if !ok {
					t.Error("a waiter did not get the whole response")
				}
			}
			if !<-leader || !leaderWaited.Load() || calls.Load() != waiters+1 {
				t.Fatalf("leader whole, waiters done while it was paused past MaxBody: %v; %d calls, want %d",
					leaderWaited.Load(), calls.Load(), waiters+1)
			}
		})
	}
}

// A handler that flushes streams line by line: each line reaches the client
// before the handler writes the next. It is not stored.
func TestAFlushingHandlerStreamsLineByLine(t *testing.T) {
	const lines = 10
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			read := make(chan int, lines)
			var calls atomic.Int32
			var inOrder atomic.Int32 // lines written only once the previous one was read
			srv := a.serve(t, newEngine(t, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first := calls.Add(1) == 1
				w.Header().Set("Content-Type", "application/x-ndjson")
				rc := http.NewResponseController(w)
				for i := range lines {
					fmt.Fprintf(w, "{\"line\":%d}\n", i)
					if err := rc.Flush(); err != nil {
						t.Errorf("flush: %v", err)
						return
					}
					if !first {
						continue
					}
					select {
					case got := <-read:
						if got == i {
							inOrder.Add(1)
						}
					case <-time.After(streamWait):
						return
					}
				}
			}))
			resp, err := http.Get(srv.URL + "/ndjson")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			n := 0
			for sc.Scan() {
				if sc.Text() != fmt.Sprintf("{\"line\":%d}", n) {
					t.Fatalf("line %d: %q", n, sc.Text())
				}
				read <- n
				n++
			}
			if n != lines || inOrder.Load() != lines {
				t.Fatalf("%d lines read, %d of them before the handler wrote the next; want %d", n, inOrder.Load(), lines)
			}
			if !strings.Contains(resp.Header.Get("Cache-Status"), "detail=streamed") {
				t.Errorf("Cache-Status %q, want the stream marked not stored", resp.Header.Get("Cache-Status"))
			}
			if r := get(t, srv, "/ndjson"); r.hit() || strings.Count(r.body, "\n") != lines || calls.Load() != 2 {
				t.Fatalf("second request: %q (%s) after %d calls; want the handler again", r.body, r.cacheStatus(), calls.Load())
			}
		})
	}
}
