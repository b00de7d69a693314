package web

import "net/http"

func (w *Web) routeAnnual(mux *http.ServeMux) {}
