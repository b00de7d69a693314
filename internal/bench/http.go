package bench

import (
	"net/http"
	"time"
)

// httpClient keeps one idle connection per benchmark client, so latency is not connection set-up.
func httpClient(clients int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(clients, 2) * 2
	return &http.Client{Transport: t, Timeout: time.Minute}
}
