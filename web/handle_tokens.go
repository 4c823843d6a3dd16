package web

import (
	"net/http"
)

type tokenCreateRequest struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

type tokenCreateResponse struct {
	Token
	Secret string `json:"token"`
}

func handleTokenList(tokens *Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := tokens.List(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"tokens": list})
	})
}

func handleTokenCreate(tokens *Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tokenCreateRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		tok, secret, err := tokens.Create(r.Context(), req.Name, req.Role)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("token created", "token_id", tok.ID, "name", tok.Name, "role", tok.Role, "by", caller(r.Context()).Name)
		encode(w, http.StatusCreated, tokenCreateResponse{Token: tok, Secret: secret})
	})
}

func handleTokenRevoke(tokens *Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := tokens.Revoke(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("token revoked", "token_id", id, "by", caller(r.Context()).Name)
		w.WriteHeader(http.StatusNoContent)
	})
}
