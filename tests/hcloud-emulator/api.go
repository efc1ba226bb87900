package main

// The HTTP side shared by every endpoint: bearer-token auth, rate-limit headers, Hetzner's error body,
// pagination and filters, and one lock around each request (the state is small; requests are serialised
// the way a single project's writes effectively are).

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type Emulator struct {
	store       *Store
	token       string
	actionDelay time.Duration
	publicIPv4  ipv4Range
	now         func() time.Time

	// Rate limit: Hetzner's default is 3600 requests per hour per project, refilled one per second
	// (RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset).
	rateLimit     int
	rateRemaining float64
	rateUpdated   time.Time

	mux *http.ServeMux

	// machines (machines.go): nil unless -machine-hook names machine.sh.
	machines *machines
	// volumeDir holds the volumes' files (volumefiles.go); "" keeps volumes records only.
	volumeDir string
}

type apiError struct {
	status  int
	code    string
	message string
	details any
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

type fieldMessages struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages,omitempty"`
}

// errInvalid is Hetzner's invalid_input: "invalid input in field '<field>'" with the field's messages in
// details.fields (the shape of the example in Hetzner's API reference).
func errInvalid(field string, messages ...string) *apiError {
	msg := fmt.Sprintf("invalid input in field '%s'", field)
	if len(messages) > 0 {
		msg += ": " + strings.Join(messages, ", ")
	}
	return &apiError{http.StatusBadRequest, "invalid_input", msg, map[string]any{"fields": []fieldMessages{{Name: field, Messages: messages}}}}
}

func errNotFound(kind string, id any) *apiError {
	return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("%s with ID '%v' not found", kind, id), nil}
}

// errUnique is Hetzner's uniqueness_error: details.fields names the field that must be unique.
func errUnique(field, message string) *apiError {
	return &apiError{http.StatusConflict, "uniqueness_error", message, map[string]any{"fields": []fieldMessages{{Name: field}}}}
}

func errCode(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...), nil}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		log.Printf("writing response: %v", err)
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	details := e.details
	writeJSON(w, e.status, map[string]any{"error": map[string]any{"code": e.code, "message": e.message, "details": details}})
}

// request is what a handler sees: the HTTP request, the decoded path id (if any) and the state, locked.
type request struct {
	*http.Request
	st  *State
	now time.Time
}

func (r *request) id(name string) (int64, *apiError) {
	raw := r.PathValue(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, errInvalid("id", "invalid ID")
	}
	return id, nil
}

func (r *request) decode(v any) *apiError {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return errCode(http.StatusBadRequest, "json_error", "JSON payload is invalid: %v", err)
	}
	return nil
}

type handler func(r *request) (int, any, *apiError)

// handle registers a handler: auth, rate limit, lock, and a save of the state after every successful
// request that is not a read.
func (e *Emulator) handle(pattern string, h handler) {
	e.mux.HandleFunc(pattern, func(w http.ResponseWriter, hr *http.Request) {
		e.store.mu.Lock()
		defer e.store.mu.Unlock()
		now := e.now()
		if !e.takeRateLimit(w, now) {
			writeError(w, errCode(http.StatusTooManyRequests, "rate_limit_exceeded", "limit of %d requests per hour reached", e.rateLimit))
			return
		}
		auth := hr.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "Bearer ") || subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(auth, "Bearer ")), []byte(e.token)) != 1 {
			writeError(w, errCode(http.StatusUnauthorized, "unauthorized", "unable to authenticate"))
			return
		}
		status, body, apiErr := h(&request{Request: hr, st: e.store.state, now: now})
		if apiErr != nil {
			log.Printf("%s %s -> %d %s: %s", hr.Method, hr.URL.RequestURI(), apiErr.status, apiErr.code, apiErr.message)
			writeError(w, apiErr)
			return
		}
		if hr.Method != http.MethodGet {
			if err := e.store.saveLocked(); err != nil {
				writeError(w, errCode(http.StatusInternalServerError, "server_error", "saving state: %v", err))
				return
			}
			// The machines follow the state before the answer leaves: a client that reads the answer finds
			// the machine started, stopped or filtered as the API says.
			e.machines.sync(e.store.state)
		}
		log.Printf("%s %s -> %d", hr.Method, hr.URL.RequestURI(), status)
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

func (e *Emulator) takeRateLimit(w http.ResponseWriter, now time.Time) bool {
	elapsed := now.Sub(e.rateUpdated).Seconds()
	e.rateUpdated = now
	perSecond := float64(e.rateLimit) / 3600
	e.rateRemaining = math.Min(float64(e.rateLimit), e.rateRemaining+elapsed*perSecond)
	allowed := e.rateRemaining >= 1
	if allowed {
		e.rateRemaining--
	}
	remaining := int(math.Floor(e.rateRemaining))
	reset := now.Add(time.Duration((float64(e.rateLimit) - e.rateRemaining) / perSecond * float64(time.Second)))
	w.Header().Set("RateLimit-Limit", strconv.Itoa(e.rateLimit))
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return allowed
}

// page cuts items to the requested page and adds Hetzner's meta.pagination (page, per_page ≤ 50).
func page[T any](r *request, key string, items []T) (int, any, *apiError) {
	q := r.URL.Query()
	pageNo, perPage := 1, 25
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, nil, errInvalid("page", "must be a positive integer")
		}
		pageNo = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, nil, errInvalid("per_page", "must be a positive integer")
		}
		perPage = min(n, 50)
	}
	total := len(items)
	last := max(1, (total+perPage-1)/perPage)
	start := min((pageNo-1)*perPage, total)
	end := min(start+perPage, total)
	pag := schema.MetaPagination{Page: pageNo, PerPage: perPage, LastPage: last, TotalEntries: total}
	if pageNo > 1 {
		pag.PreviousPage = pageNo - 1
	}
	if pageNo < last {
		pag.NextPage = pageNo + 1
	}
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return http.StatusOK, map[string]any{key: out, "meta": schema.Meta{Pagination: &pag}}, nil
}

// filter keeps the items matching the list filters every collection shares: name and label_selector.
func filter[T any](r *request, items []T, name func(T) string, labels func(T) map[string]string) ([]T, *apiError) {
	q := r.URL.Query()
	sel, err := parseSelector(q.Get("label_selector"))
	if err != nil {
		return nil, errInvalid("label_selector", err.Error())
	}
	out := []T{}
	for _, it := range items {
		if n := q.Get("name"); n != "" && name(it) != n {
			continue
		}
		if !sel.matches(labels(it)) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// sortByQuery applies ?sort=id|id:asc|id:desc|name|created (the keys the provider and hcloud-go send);
// unknown keys keep the default order (by id).
func sortByQuery[T any](r *request, items []T, id func(T) int64, name func(T) string) {
	for _, key := range r.URL.Query()["sort"] {
		field, dir, _ := strings.Cut(key, ":")
		less := func(i, j int) bool { return id(items[i]) < id(items[j]) }
		if field == "name" {
			less = func(i, j int) bool { return name(items[i]) < name(items[j]) }
		} else if field != "id" && field != "created" {
			continue
		}
		if dir == "desc" {
			sort.SliceStable(items, func(i, j int) bool { return less(j, i) })
		} else {
			sort.SliceStable(items, less)
		}
	}
}

func copyLabels(l *map[string]string) map[string]string {
	out := map[string]string{}
	if l != nil {
		for k, v := range *l {
			out[k] = v
		}
	}
	return out
}
