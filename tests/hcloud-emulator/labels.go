package main

// Labels as Hetzner defines them. Key: an optional prefix (a DNS subdomain, at most 253 characters, then
// "/") and a name of at most 63 characters that begins and ends with [a-z0-9A-Z], with -, _, . and
// alphanumerics between; the prefix hetzner.cloud/ is reserved. Value: at most 63 characters, empty or the
// same pattern as a key's name. Label selectors: comma-separated terms k==v, k=v, k!=v, k, !k,
// k in (a,b), k notin (a,b), all of which must hold.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var (
	labelNameRe   = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$`)
	labelPrefixRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

func validateLabels(labels map[string]string) *apiError {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if msg := labelKeyProblem(k); msg != "" {
			return errInvalid("labels", msg)
		}
		v := labels[k]
		if len(v) > 63 || (v != "" && !labelNameRe.MatchString(v)) {
			return errInvalid("labels", fmt.Sprintf("label value '%s' of key '%s' is invalid", v, k))
		}
	}
	return nil
}

func labelKeyProblem(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if prefix == "hetzner.cloud" || strings.HasSuffix(prefix, ".hetzner.cloud") {
			return fmt.Sprintf("label key '%s' uses the reserved prefix hetzner.cloud/", k)
		}
		if len(prefix) > 253 || !labelPrefixRe.MatchString(prefix) {
			return fmt.Sprintf("label key '%s' has an invalid prefix", k)
		}
	}
	if len(name) == 0 || len(name) > 63 || !labelNameRe.MatchString(name) {
		return fmt.Sprintf("label key '%s' is invalid", k)
	}
	return ""
}

type selectorTerm struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

type selector []selectorTerm

func (s selector) matches(labels map[string]string) bool {
	for _, t := range s {
		v, ok := labels[t.key]
		switch t.op {
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		case "=":
			if !ok || v != t.values[0] {
				return false
			}
		case "!=":
			if ok && v == t.values[0] {
				return false
			}
		case "in":
			if !ok || !contains(t.values, v) {
				return false
			}
		case "notin":
			if ok && contains(t.values, v) {
				return false
			}
		}
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// splitTerms splits on commas outside parentheses.
func splitTerms(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseSelector(s string) (selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var sel selector
	for _, raw := range splitTerms(s) {
		t := strings.TrimSpace(raw)
		switch {
		case t == "":
			return nil, fmt.Errorf("empty term in label selector '%s'", s)
		case strings.HasPrefix(t, "!"):
			sel = append(sel, selectorTerm{key: strings.TrimSpace(t[1:]), op: "!exists"})
		case strings.Contains(t, "!="):
			k, v, _ := strings.Cut(t, "!=")
			sel = append(sel, selectorTerm{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}})
		case strings.Contains(t, "=="):
			k, v, _ := strings.Cut(t, "==")
			sel = append(sel, selectorTerm{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}})
		case strings.Contains(t, "="):
			k, v, _ := strings.Cut(t, "=")
			sel = append(sel, selectorTerm{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}})
		case strings.Contains(t, " notin "), strings.Contains(t, " in "):
			op := "in"
			if strings.Contains(t, " notin ") {
				op = "notin"
			}
			k, rest, _ := strings.Cut(t, " "+op+" ")
			rest = strings.TrimSpace(rest)
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
				return nil, fmt.Errorf("'%s': expected a parenthesised list of values", t)
			}
			var values []string
			for _, v := range strings.Split(rest[1:len(rest)-1], ",") {
				values = append(values, strings.TrimSpace(v))
			}
			sel = append(sel, selectorTerm{key: strings.TrimSpace(k), op: op, values: values})
		default:
			sel = append(sel, selectorTerm{key: t, op: "exists"})
		}
	}
	for _, term := range sel {
		if msg := labelKeyProblem(term.key); msg != "" && !strings.HasPrefix(term.key, "hetzner.cloud/") {
			return nil, fmt.Errorf("%s", msg)
		}
	}
	return sel, nil
}
