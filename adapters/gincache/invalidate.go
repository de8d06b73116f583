package gincache

import (
	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// InvalidateConfig says what a write route invalidates; see
// middleware.InvalidateConfig.
type InvalidateConfig = middleware.InvalidateConfig

// Invalidate returns the middleware for a write route: after a 2xx answer
// to a POST, PUT, PATCH or DELETE, and before that answer's status is
// written, it invalidates the tags cfg names, so that a client that reads
// right after its write never gets the old response from the cache. The
// route's parameters are the request's path values: cfg.Tags reads them
// with r.PathValue, as with net/http.
func Invalidate(e *core.Engine, cfg InvalidateConfig) (gin.HandlerFunc, error) {
	iv, err := middleware.NewInvalidator(e, cfg)
	if err != nil {
		return nil, err
	}
	return func(gc *gin.Context) {
		for _, p := range gc.Params {
			gc.Request.SetPathValue(p.Key, p.Value)
		}
		_ = runRest(gc, middleware.HookWriter(gc.Writer, iv.Hook(gc.Request)), gc.Request)
	}, nil
}
