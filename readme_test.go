package swrcache_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Must show 6: README code cannot rot. Every Go snippet in the README is a
// run of lines of some test file of the repository (an Example function,
// or a helper an Example and its twin test call), so go vet and go test
// compile it; the twins prove what the quick starts claim.
func TestEveryREADMESnippetIsCompiledCode(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d Go snippets in the README, want the quick starts at least", len(blocks))
	}
	var sources []string // the test files, each as trimmed non-empty lines
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		sources = append(sources, strings.Join(lines(string(b)), "\n"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		snippet := strings.Join(lines(string(b[1])), "\n")
		found := false
		for _, src := range sources {
			if strings.Contains("\n"+src+"\n", "\n"+snippet+"\n") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("this README snippet is in no test file; copy it from an Example, or add it to one:\n%s", b[1])
		}
	}
}

// lines returns s's lines, trimmed, without the empty ones.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
