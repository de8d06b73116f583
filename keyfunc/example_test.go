package keyfunc_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/swrcache/swrcache/keyfunc"
)

func ExampleSpec_Key() {
	spec := keyfunc.Spec{
		Resource: "products",
		Query:    []string{"page", "sort"}, // utm_* and other parameters do not bust the cache
		Headers:  []string{"Accept-Language"},
		HashLen:  16,
	}
	r := httptest.NewRequest("GET", "http://shop.example/products?sort=price&page=2&utm_source=mail", nil)
	r.Header.Set("Accept-Language", "en")

	k, err := spec.Key(r, "acme") // the tenant comes from a verified claim, never from the client
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.Name)
	fmt.Println(keyfunc.ValidName(k.Name) == nil)

	// The same request, parameters reordered and marketing tags dropped, as HEAD.
	r2 := httptest.NewRequest("HEAD", "http://shop.example/products?page=2&sort=price", nil)
	r2.Header.Set("Accept-Language", "en")
	k2, _ := spec.Key(r2, "acme")
	fmt.Println(k2 == k)

	_, err = spec.Key(r, "Acme:1")
	fmt.Println(err)
	// Output:
	// v1:api:products:79a08b0ba83fa767:acme
	// true
	// true
	// keyfunc: invalid tenant
}
