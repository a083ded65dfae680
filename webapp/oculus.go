package webapp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kale/kale/oculus"
)

// WithOculus serves /api/correlate, /api/search and /api/collections from
// s; without it those routes answer 503.
func (h *Handler) WithOculus(s *oculus.Searcher) *Handler {
	h.oculus = s
	return h
}

// Limits of the Oculus routes.
const (
	defaultCorrelateLimit = 20
	maxCorrelateLimit     = 1000
	maxSearchValues       = 100_000
	maxSearchBody         = 4 << 20
	maxCorrelateWindow    = 31 * 24 * time.Hour
)

func (h *Handler) registerOculus() {
	h.mux.HandleFunc("GET /api/correlate", h.apiCorrelate)
	h.mux.HandleFunc("POST /api/search", h.apiSearch)
	h.mux.HandleFunc("GET /api/collections", h.apiCollections)
	h.mux.HandleFunc("POST /api/collections", h.apiCollectionCreate)
	h.mux.HandleFunc("GET /api/collections/{id}", h.apiCollection)
	h.mux.HandleFunc("POST /api/collections/{id}", h.apiCollectionUpdate)
	h.mux.HandleFunc("DELETE /api/collections/{id}", h.apiCollectionDelete)
}

func (h *Handler) oculusOff(w http.ResponseWriter) bool {
	if h.oculus == nil {
		writeError(w, http.StatusServiceUnavailable, "Oculus is not running in this process: run kale run, or kale webapp with kale oculus beside it")
		return true
	}
	return false
}

// apiCorrelate is GET /api/correlate?metric=NAME[&from=TS&until=TS&limit=N]:
// the metrics whose shape over the window is closest to NAME's, best
// first. Without from and until the window is the index's (the last hour
// of the latest import); with one of them the other is a window's length
// (oculus.window) away.
func (h *Handler) apiCorrelate(w http.ResponseWriter, r *http.Request) {
	if h.oculusOff(w) {
		return
	}
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" {
		writeError(w, http.StatusBadRequest, "missing parameter: metric")
		return
	}
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	win, err := h.window(q.Get("from"), q.Get("until"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := h.oculus.Correlate(r.Context(), metric, win, limit)
	if err != nil {
		h.oculusFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// window parses the optional from/until of /api/correlate.
func (h *Handler) window(from, until string) (oculus.Window, error) {
	if from == "" && until == "" {
		return oculus.Window{}, nil
	}
	span := int64(h.oculus.Config().Window / time.Second)
	var win oculus.Window
	var err error
	if from != "" {
		if win.From, err = strconv.ParseInt(from, 10, 64); err != nil {
			return win, errors.New("from: want UNIX seconds")
		}
	}
	if until != "" {
		if win.Until, err = strconv.ParseInt(until, 10, 64); err != nil {
			return win, errors.New("until: want UNIX seconds")
		}
	}
	switch {
	case from == "":
		win.From = win.Until - span
	case until == "":
		win.Until = win.From + span
	}
	if !win.Valid() {
		return win, errors.New("from must be before until")
	}
	if uint64(win.Until)-uint64(win.From) > uint64(maxCorrelateWindow/time.Second) { // From < Until: no overflow
		return win, errors.New("the window may span at most 31 days")
	}
	return win, nil
}

func limitParam(s string) (int, error) {
	if s == "" {
		return defaultCorrelateLimit, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > maxCorrelateLimit {
		return 0, errors.New("limit: want 1 to " + strconv.Itoa(maxCorrelateLimit))
	}
	return v, nil
}

// apiSearch is POST /api/search {"values": [...], "limit": N}: the
// metrics whose shape over the index's window is closest to the values (a
// drawn curve), best first.
func (h *Handler) apiSearch(w http.ResponseWriter, r *http.Request) {
	if h.oculusOff(w) {
		return
	}
	var body struct {
		Values []*float64 `json:"values"`
		Limit  int        `json:"limit"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(body.Values) < 2 || len(body.Values) > maxSearchValues {
		writeError(w, http.StatusBadRequest, "values: want 2 to "+strconv.Itoa(maxSearchValues)+" numbers")
		return
	}
	if body.Limit == 0 {
		body.Limit = defaultCorrelateLimit
	}
	if body.Limit < 1 || body.Limit > maxCorrelateLimit {
		writeError(w, http.StatusBadRequest, "limit: want 1 to "+strconv.Itoa(maxCorrelateLimit))
		return
	}
	values := make([]float64, len(body.Values))
	for i, v := range body.Values {
		if v == nil {
			writeError(w, http.StatusBadRequest, "values["+strconv.Itoa(i)+"]: null; want numbers only")
			return
		}
		values[i] = *v
	}
	res, err := h.oculus.Search(r.Context(), values, body.Limit)
	if err != nil {
		h.oculusFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decodeBody reads one JSON object of at most maxSearchBody bytes,
// refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSearchBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errors.New("the request body is larger than 4 MiB")
		}
		return errors.New("the request body is not the expected JSON: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the request body holds more than one JSON value")
	}
	return nil
}

func (h *Handler) oculusFailed(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, oculus.ErrUnknownMetric), errors.Is(err, oculus.ErrCollectionNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, oculus.ErrTooFewPoints):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, oculus.ErrNoIndex):
		writeError(w, http.StatusServiceUnavailable, err.Error()+"; try again once the importer has run (kale_oculus_last_import_timestamp_seconds)")
	case errors.Is(err, oculus.ErrInvalidCollection), errors.Is(err, oculus.ErrBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, oculus.ErrCollectionExists):
		writeError(w, http.StatusConflict, err.Error())
	default:
		h.fail(w, http.StatusInternalServerError, err)
	}
}

// collectionSummary is an element of GET /api/collections: the members'
// names without their shapes.
type collectionSummary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Metrics     []string  `json:"metrics"`
}

func (h *Handler) apiCollections(w http.ResponseWriter, r *http.Request) {
	if h.oculusOff(w) {
		return
	}
	list, err := h.oculus.Index().Collections(r.Context())
	if err != nil {
		h.oculusFailed(w, err)
		return
	}
	out := make([]collectionSummary, len(list))
	for i, c := range list {
		out[i] = collectionSummary{ID: c.ID, Name: c.Name, Description: c.Description, Created: c.Created, Updated: c.Updated, Metrics: []string{}}
		for _, m := range c.Members {
			out[i].Metrics = append(out[i].Metrics, m.Metric)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
}

func (h *Handler) apiCollection(w http.ResponseWriter, r *http.Request) {
	if h.oculusOff(w) {
		return
	}
	c, err := h.oculus.Index().Collection(r.Context(), r.PathValue("id"))
	if err != nil {
		h.oculusFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) apiCollectionCreate(w http.ResponseWriter, r *http.Request) {
	h.saveCollection(w, r, "")
}

func (h *Handler) apiCollectionUpdate(w http.ResponseWriter, r *http.Request) {
	h.saveCollection(w, r, r.PathValue("id"))
}

func (h *Handler) saveCollection(w http.ResponseWriter, r *http.Request, id string) {
	if h.oculusOff(w) {
		return
	}
	var in oculus.CollectionInput
	if err := decodeBody(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := h.oculus.SaveCollection(r.Context(), id, in)
	if err != nil {
		h.oculusFailed(w, err)
		return
	}
	status := http.StatusOK
	if id == "" {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/collections/"+c.ID)
	}
	writeJSON(w, status, c)
}

func (h *Handler) apiCollectionDelete(w http.ResponseWriter, r *http.Request) {
	if h.oculusOff(w) {
		return
	}
	id := r.PathValue("id")
	if err := h.oculus.Index().DeleteCollection(r.Context(), id); err != nil {
		h.oculusFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
}
