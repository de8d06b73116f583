package echocache

import (
	"net/http"

	"github.com/labstack/echo/v4"

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
// with r.PathValue, as with net/http. An error returned by the route is
// rendered by echo's HTTPErrorHandler after the middleware returns; it
// invalidates only if rendered with a 2xx.
func Invalidate(e *core.Engine, cfg InvalidateConfig) (echo.MiddlewareFunc, error) {
	iv, err := middleware.NewInvalidator(e, cfg)
	if err != nil {
		return nil, err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res, r := c.Response(), c.Request()
			for i, name := range c.ParamNames() {
				r.SetPathValue(name, c.ParamValues()[i])
			}
			hook := iv.Hook(r)
			res.Before(func() { hook(res.Status) })
			err := next(c)
			if err == nil && !res.Committed {
				hook(http.StatusOK) // a route that wrote nothing answers 200
			}
			return err
		}
	}, nil
}
