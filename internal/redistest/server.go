package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process a test owns, on a port of its own: a
// test may kill, restart and reconfigure it, which it must never do to the
// shared server.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string   // its working directory, kept across restarts (a cluster node's nodes.conf)
	conf string   // a config file, given first ("" for none): a Sentinel's
	args []string // extra arguments; protected by mu

	mu   sync.Mutex
	cmd  *exec.Cmd // nil while stopped; protected by mu
	stop func()    // kills cmd and waits for it; protected by mu
}

// NewServer finds redis-server and a free port, but starts nothing. It
// skips t when there is no redis-server, unless SWRCACHE_REQUIRE_REDIS=1.
// The server is killed when t ends.
func NewServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SWRCACHE_REQUIRE_REDIS") == "1" {
			t.Fatalf("SWRCACHE_REQUIRE_REDIS=1 but no redis-server: %v", err)
		}
		t.Skipf("no redis-server on PATH: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	r := &Server{t: t, bin: bin, port: port, dir: t.TempDir(), args: args}
	t.Cleanup(r.Kill)
	return r
}

// StartServer is NewServer followed by Start.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	r := NewServer(t, args...)
	r.Start()
	return r
}

// Addr is the server's host:port.
func (r *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Start starts an empty server on r's port and waits until it answers PING.
func (r *Server) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		r.t.Fatal("private redis already running")
	}
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir}, r.args...)
	if r.conf != "" {
		args = append([]string{r.conf}, args...)
	}
	cmd := exec.Command(r.bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &out}, nil
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rawPing(r.Addr()) == nil {
			break
		}
		select {
		case <-exited:
			r.t.Fatalf("redis-server exited early:\n%s", cmd.Stdout.(*lockedWriter).String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			r.t.Fatalf("redis-server did not answer PING on %s within 10s", r.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd = cmd
	r.stop = stop
}

// Kill sends SIGKILL to the server and waits for it to exit. It does
// nothing while stopped.
func (r *Server) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.stop()
	r.cmd, r.stop = nil, nil
}

// Running reports whether the server runs.
func (r *Server) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

// SetArgs replaces the extra arguments the next Start passes to
// redis-server.
func (r *Server) SetArgs(args ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.args = args
}

// Restart kills the server, if running, and starts it again, empty, on the
// same port (a cluster node keeps its identity: its nodes.conf stays).
func (r *Server) Restart() {
	r.t.Helper()
	r.Kill()
	r.Start()
}

// Do runs one command on the private server with a client of its own.
func (r *Server) Do(args ...any) *redis.Cmd {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...)
}

// rawPing sends PING over a bare connection, so that a server not yet up
// does not make go-redis log anything.
func rawPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
