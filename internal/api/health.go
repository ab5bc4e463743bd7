package api

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/speech"
)

func healthz(w http.ResponseWriter, r *http.Request) {
	apierr.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ReadyBody is the /readyz response.
type ReadyBody struct {
	Status     string           `json:"status"` // "ready" or "not_ready"
	Roles      []ReadyRole      `json:"roles"`
	Components []ReadyComponent `json:"components,omitempty"`
}

// ReadyComponent is one infrastructure probe in ReadyBody.
type ReadyComponent struct {
	Name  string `json:"name"`
	State string `json:"state"` // "ready" or "failed"
	Error string `json:"error,omitempty"`
}

// componentTimeout bounds each probe so a wedged dependency makes /readyz
// answer 503 instead of hanging the prober.
const componentTimeout = 2 * time.Second

// ReadyRole is one role in ReadyBody.
type ReadyRole struct {
	Role     string        `json:"role"`
	Engine   string        `json:"engine"`
	Model    string        `json:"model,omitempty"`
	Required bool          `json:"required"`
	State    engines.State `json:"state"`
	Error    string        `json:"error,omitempty"`
	Library  string        `json:"library,omitempty"`
	Files    []ReadyFile   `json:"files,omitempty"`
	// Chain lists a chain's engines in priority order; Serving says how
	// many streams each serves now (the local engine serving means the
	// primary is down or recovering).
	Chain   []string       `json:"chain,omitempty"`
	Serving map[string]int `json:"serving,omitempty"`
	// Prepared sums up the prepared-text adaptations the role's engines
	// keep: how many, their size, how many were built and the last build
	// time (counts, never words).
	Prepared []speech.ContextStats `json:"prepared,omitempty"`
}

// ReadyFile is a verified model file. Only its base name is shown: the
// endpoint is public and the host's directory layout is not its business.
type ReadyFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// readyz answers 200 when every required role is ready, else 503; the body
// lists every role either way.
func readyz(set Readiness, comps []Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := ReadyBody{Status: "ready", Roles: []ReadyRole{}}
		ready := true
		if set != nil {
			ready = set.Ready()
			for _, st := range set.Status() {
				rr := ReadyRole{Role: st.Role, Engine: st.Engine, Model: st.Model, Required: st.Required, State: st.State,
					Error: hidePaths(st.Error), Serving: st.Serving, Prepared: st.Prepared}
				if chain := strings.Split(st.Engine, ","); len(chain) > 1 {
					rr.Chain = chain
				}
				if st.Info != nil {
					rr.Library = st.Info.Library
					if st.Info.Model != "" {
						rr.Model = st.Info.Model
					}
					for _, f := range st.Info.Files {
						rr.Files = append(rr.Files, ReadyFile{Name: filepath.Base(f.Path), SHA256: f.SHA256, Size: f.Size})
					}
				}
				body.Roles = append(body.Roles, rr)
			}
		}
		for _, c := range comps {
			ctx, cancel := context.WithTimeout(r.Context(), componentTimeout)
			err := c.Check(ctx)
			cancel()
			rc := ReadyComponent{Name: c.Name, State: "ready"}
			if err != nil {
				rc.State, rc.Error, ready = "failed", hidePaths(err.Error()), false
			}
			body.Components = append(body.Components, rc)
		}
		status := http.StatusOK
		if !ready {
			body.Status, status = "not_ready", http.StatusServiceUnavailable
		}
		apierr.JSON(w, status, body)
	})
}

// absPath matches file paths (absolute or ./relative) inside an error message.
var absPath = regexp.MustCompile("[\\w.~-]*(?:/[^\\s\"'`:;,()]+)+")

// hidePaths shortens absolute paths in msg to their last element, so the
// public /readyz says which file is wrong without mapping the host.
func hidePaths(msg string) string {
	return absPath.ReplaceAllStringFunc(msg, filepath.Base)
}
