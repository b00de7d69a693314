package web

import "net/http"

// routeActions registers the actions on an initiative (decisions, reports, acceptances, evaluation,
// withdrawal), each a form posted to the initiative's page.
func (w *Web) routeActions(pages *http.ServeMux) {}
