package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// printInspect writes rep as text: one "label  value" line per fact.
func printInspect(w io.Writer, rep inspectReport) {
	printEntry(w, rep.Entry, "")
	if rep.Variant != nil {
		fmt.Fprintf(w, "\nvariant for this request:\n")
		printEntry(w, *rep.Variant, "  ")
	}
	if rep.VaryTag == "" {
		return
	}
	more := ""
	if rep.More {
		more = " (and more)"
	}
	fmt.Fprintf(w, "\nvariants found by tag %s: %d%s\n", rep.VaryTag, len(rep.Variants), more)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range rep.Variants {
		status := "-"
		if v.Status != 0 {
			status = fmt.Sprint(v.Status)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d bytes\n", v.Name, v.State, status, v.BodyBytes)
	}
	_ = tw.Flush()
}

// printEntry writes one entry's lines, each after prefix.
func printEntry(w io.Writer, e entryReport, prefix string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s%s\t%s\n", prefix, label, fmt.Sprintf(format, args...))
	}
	line("entry", "%s", e.Name)
	line("redis key", "%s", e.RedisKey)
	line("state", "%s", e.State)
	if e.Problem != "" {
		line("problem", "%s", e.Problem)
	}
	switch e.Identity {
	case "matches":
		line("identity", "matches: stored for this request (or key)")
	case "differs":
		line("identity", "differs: stored for another request whose key name collided, or planted")
	}
	if e.StoredAt != nil {
		line("stored", "%s (%s ago)", stamp(*e.StoredAt), ms(e.AgeMS))
		for _, win := range e.Windows {
			line(win.Name, "%s", describeWindow(win))
		}
		line("load time", "%s", ms(e.LoadMS))
		if e.RedisTTLMS < 0 {
			line("redis ttl", "none (the engine always sets one)")
		} else {
			line("redis ttl", "%s", ms(e.RedisTTLMS))
		}
		if len(e.Tags) > 0 {
			line("tags", "%s", strings.Join(e.Tags, ", "))
		}
	}
	if e.Vary != nil {
		line("vary marker", "%s: a variant per request value of these headers", strings.Join(e.Vary, ", "))
	}
	if r := e.Response; r != nil {
		line("status", "%d", r.Status)
		names := make([]string, 0, len(r.Header))
		for name := range r.Header {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			for _, v := range r.Header[name] {
				line("header", "%s: %s", name, preview([]byte(v), 256))
			}
		}
		line("body", "%d bytes: %s", r.BodyBytes, r.BodyPreview)
	}
	if v := e.Value; v != nil {
		line("value", "%d bytes, %s: %s", v.Bytes, v.Format, v.Preview)
	}
	_ = tw.Flush()
}

func describeWindow(win window) string {
	if win.Name != "fresh" && win.LengthMS == 0 {
		return "none"
	}
	left := "in " + ms(win.LeftMS)
	if win.LeftMS <= 0 {
		left = "ended " + ms(-win.LeftMS) + " ago"
	}
	length := ms(win.LengthMS) + " past fresh"
	if win.Name == "fresh" {
		length = "TTL " + ms(win.LengthMS)
	}
	return fmt.Sprintf("until %s (%s; %s)", stamp(win.Until), left, length)
}

// preview returns at most n bytes of b as printable text: valid UTF-8 that
// is printable is kept, a backslash and every other byte or rune is
// escaped (\n, \t, \xNN, \u{NNNN}), and what is left out is counted.
func preview(b []byte, n int) string {
	var s strings.Builder
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if i+size > n {
			break
		}
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&s, `\x%02x`, b[i])
		case r == '\\':
			s.WriteString(`\\`)
		case r == '\n':
			s.WriteString(`\n`)
		case r == '\r':
			s.WriteString(`\r`)
		case r == '\t':
			s.WriteString(`\t`)
		case r < utf8.RuneSelf && !unicode.IsPrint(r):
			fmt.Fprintf(&s, `\x%02x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&s, `\u{%04x}`, r)
		default:
			s.WriteRune(r)
		}
		i += size
	}
	if i < len(b) {
		fmt.Fprintf(&s, "... (%d more bytes)", len(b)-i)
	}
	return s.String()
}
