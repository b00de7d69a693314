package web

import "net/http"

// routeProposals registers the proposal forms: a new proposal and a revised one.
func (w *Web) routeProposals(pages *http.ServeMux) {}
