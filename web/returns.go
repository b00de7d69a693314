package web

import "net/http"

func (w *Web) routeReturns(mux *http.ServeMux) {}
