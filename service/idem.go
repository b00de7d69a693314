package service

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
)

// Idem names one user request across its retries, so that a retry after a lost answer, an error or a timeout is
// the same action to Temporal (same update ID, same new initiative ID) and is carried out once. The API makes it
// from the Idempotency-Key and the request; a page from the token of the form it posts. The zero Idem names
// nothing: every call gets fresh IDs.
type Idem struct {
	userID string
	digest string
}

// NewIdem is the Idem of user's request named key (empty: the zero Idem), whose content is request (the API's
// request hash: method, path and body; a page may pass nil when its key is unique per form already). The same key
// with other content is another request, so it can never receive a different request's result.
func NewIdem(userID, key string, request []byte) Idem {
	if key == "" {
		return Idem{}
	}
	// hex(sha256(user, key, request)), length-prefixed and truncated to 128 bits: unique per (user, key, request)
	// and short enough for an update ID whatever the key's length.
	h := sha256.New()
	for _, part := range [][]byte{[]byte(userID), []byte(key), request} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return Idem{userID: userID, digest: hex.EncodeToString(h.Sum(nil)[:16])}
}

// Key is the request's key for what the store deduplicates by itself (an in-kind registration): "<user>/<digest>",
// or "" for the zero Idem.
func (k Idem) Key() string {
	if !k.Keyed() {
		return ""
	}
	return k.userID + "/" + k.digest
}

// Keyed reports whether the Idem names a request (is not the zero Idem).
func (k Idem) Keyed() bool { return k.digest != "" }

// UpdateID is the workflow update ID of the request: "<user>/<digest>", or a random UUID for the zero Idem.
func (k Idem) UpdateID() string {
	if !k.Keyed() {
		return uuid.NewString()
	}
	return k.userID + "/" + k.digest
}

// initiativeNamespace seeds initiative IDs derived from an Idem.
var initiativeNamespace = uuid.MustParse("6f1b8f9e-3c4d-4b8a-9a57-1f0e5d2c7b10")

// InitiativeID is the ID of the initiative a proposal creates: derived from the Idem (a UUIDv5), so a retry of a
// proposal whose first attempt started the workflow but never answered finds that workflow instead of proposing
// the initiative twice; for the zero Idem a fresh, time-ordered UUIDv7.
func (k Idem) InitiativeID() (string, error) {
	if k.Keyed() {
		return uuid.NewSHA1(initiativeNamespace, []byte(k.userID+"/"+k.digest)).String(), nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new initiative id: %w", err)
	}
	return id.String(), nil
}

// ConfirmUpdateID names the confirm-payment update after what is confirmed, not who asks or with which key: two
// finance users (or one double click) confirming the same payment with the same reference are one update to
// Temporal, and both get its result.
func ConfirmUpdateID(disbursementID, reference string) string {
	sum := sha256.Sum256([]byte(reference))
	return "confirm/" + disbursementID + "/" + hex.EncodeToString(sum[:8])
}
