package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
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

// Why an amount did not parse (parseKroner).
var (
	errAmountMalformed = errors.New("malformed amount")
	errAmountNegative  = errors.New("negative amount")
	errAmountTooLarge  = errors.New("amount too large")
)

var kronerRe = regexp.MustCompile(`^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$`)

// parseKroner reads an amount in kroner as Danish users write it into exact øre, without a float: "1.234.567",
// "1.234.567,50", "1234567,5", "1234567". Thousands separators are dots in groups of three (or none at all), the
// decimal separator is a comma with one or two digits; spaces and a trailing "kr."/"kr" are ignored. blank says
// nothing was written. Anything else ("12,3,4", "1.23", "1e6") is errAmountMalformed, a minus errAmountNegative,
// and an amount above domain.MaxMoney errAmountTooLarge. Every form that takes money reads it here.
func parseKroner(s string) (m domain.Money, blank bool, err error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u00a0' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if t, ok := strings.CutSuffix(s, "kr."); ok {
		s = t
	} else {
		s = strings.TrimSuffix(s, "kr")
	}
	switch {
	case s == "":
		return 0, true, nil
	case strings.HasPrefix(s, "-"):
		return 0, false, errAmountNegative
	}
	g := kronerRe.FindStringSubmatch(s)
	if g == nil {
		return 0, false, errAmountMalformed
	}
	digits := strings.TrimLeft(strings.ReplaceAll(g[1], ".", ""), "0")
	if len(digits) > 16 {
		return 0, false, errAmountTooLarge
	}
	var kr int64
	if digits != "" {
		if kr, err = strconv.ParseInt(digits, 10, 64); err != nil {
			return 0, false, errAmountTooLarge
		}
	}
	var ore int64
	switch len(g[2]) {
	case 1:
		ore = int64(g[2][0]-'0') * 10
	case 2:
		ore = int64(g[2][0]-'0')*10 + int64(g[2][1]-'0')
	}
	if kr > int64(domain.MaxMoney)/100 || kr*100+ore > int64(domain.MaxMoney) {
		return 0, false, errAmountTooLarge
	}
	return domain.Money(kr*100 + ore), false, nil
}
