package gincache

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer is the gin.ResponseWriter the rest of the chain writes to when the
// cache gives it a writer of its own (recording a fill, or stripping the
// tags header), with gin's semantics: WriteHeader only sets the status,
// which goes out with the first write or WriteHeaderNow.
type writer struct {
	gin.ResponseWriter // the outer writer, for CloseNotify and Pusher
	w                  http.ResponseWriter
	status, size       int
}

func (g *writer) Header() http.Header { return g.w.Header() }
func (g *writer) Status() int         { return g.status }
func (g *writer) Size() int           { return g.size }
func (g *writer) Written() bool       { return g.size != -1 }

func (g *writer) WriteHeader(code int) {
	if code > 0 && !g.Written() {
		g.status = code
	}
}

func (g *writer) WriteHeaderNow() {
	if !g.Written() {
		g.size = 0
		g.w.WriteHeader(g.status)
	}
}

func (g *writer) Write(b []byte) (int, error) {
	g.WriteHeaderNow()
	n, err := g.w.Write(b)
	g.size += n
	return n, err
}

func (g *writer) WriteString(s string) (int, error) { return g.Write([]byte(s)) }

func (g *writer) Flush() {
	g.WriteHeaderNow()
	_ = http.NewResponseController(g.w).Flush()
}

func (g *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if g.size < 0 {
		g.size = 0
	}
	return http.NewResponseController(g.w).Hijack()
}

func (g *writer) Unwrap() http.ResponseWriter { return g.w }
