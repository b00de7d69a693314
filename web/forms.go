package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// fieldError is one problem of a form, for the error summary and the message at its field. ID is the field's
// HTML id, so the summary's link moves focus to it.
type fieldError struct {
	ID      string
	Message string
}

// newFormKey is a random key rendered into each action form. Posted back with the form, it makes the action's
// idempotency key (see formIdem): a double click or a form sent twice acts once.
func newFormKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// idem is the idempotency of a posted action form: its form key, bound to the path and to what the form says,
// so a corrected form is a new request while the same form sent again is the same one. A form without a key
// (an old page) acts with fresh IDs.
func formIdem(p store.Principal, r *http.Request) service.Idem {
	key := r.PostFormValue("form_key")
	if key == "" || len(key) > 64 {
		return service.Idem{}
	}
	return service.NewIdem(p.UserID, "web/"+key, formDigest(r))
}

// formDigest is the path and the posted values (without the CSRF token and the form key), in a fixed order.
func formDigest(r *http.Request) []byte {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.URL.Path + "\n")
	keys := make([]string, 0, len(r.PostForm))
	for k := range r.PostForm {
		if k != "csrf_token" && k != "form_key" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(strings.Join(r.PostForm[k], "\x00")) + "\n")
	}
	return []byte(b.String())
}
