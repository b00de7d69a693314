package web

import (
	"net/http"
)

// financePage is a placeholder until the disbursement inbox arrives with the service layer's actions.
func (w *Web) financePage(rw http.ResponseWriter, r *http.Request, v *viewer) {
	w.render(rw, r, http.StatusOK, "finance", v, "Økonomi", nil)
}

// routeFinance registers the finance pages.
func (w *Web) routeFinance(pages *http.ServeMux) {
	pages.HandleFunc("GET /oekonomi", w.authed(w.financePage))
}
