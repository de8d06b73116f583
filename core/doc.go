// Package core is the engine of swrcache.
package core
