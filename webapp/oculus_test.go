package webapp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/oculus"
)

func newOculusServer(t *testing.T, imported bool) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	now := time.Now()
	spec := shapegen.DefaultSpec(1000)
	spec.Groups = 3
	spec.End = now.Unix()
	var batch []series.Sample
	spec.Each(func(i int, m shapegen.Metric) error {
		for j, v := range m.Values {
			batch = append(batch, series.Sample{Name: m.Name, Point: series.Point{Timestamp: spec.End - int64(len(m.Values)-1-j)*spec.Step, Value: v}})
		}
		return nil
	})
	batch = append(batch, series.Sample{Name: "sparse", Point: series.Point{Timestamp: spec.End, Value: 1}})
	if err := st.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	idx, err := oculus.NewEmbedded(oculus.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ocfg := oculus.DefaultConfig()
	if imported {
		if _, err := oculus.NewImporter(st, idx, ocfg, nil, nil, nil).ImportOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h := New(DefaultConfig(), st, nil, nil).WithOculus(oculus.NewSearcher(idx, st, ocfg, nil))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url, body string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d %s, want %d", method, url, resp.StatusCode, raw, wantStatus)
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e); e.Error == "" {
			t.Errorf("%s %s: error answer without an error message: %s", method, url, raw)
		}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

type correlateJSON struct {
	Metric  string
	Results []struct {
		Metric   string
		Distance float64
	}
	Collections []struct{ ID, Name, Metric string }
}

func TestAPICorrelateAndSearch(t *testing.T) {
	srv := newOculusServer(t, true)
	var r correlateJSON
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00000.m01&limit=9", "", 200, &r)
	if r.Metric != "planted.g00000.m01" || len(r.Results) != 9 {
		t.Fatalf("correlate: %+v", r)
	}
	for _, m := range r.Results {
		if !strings.HasPrefix(m.Metric, "planted.g00000.") {
			t.Errorf("correlate: %s is not a planted partner", m.Metric)
		}
	}
	call(t, "GET", srv.URL+"/api/correlate?metric=nope", "", 404, nil)
	call(t, "GET", srv.URL+"/api/correlate?metric=sparse", "", 422, nil)
	call(t, "GET", srv.URL+"/api/correlate", "", 400, nil)
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00000.m01&limit=0", "", 400, nil)
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00000.m01&from=x", "", 400, nil)
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00000.m01&from=100&until=50", "", 400, nil)

	// A drawn curve: a step up in the middle.
	vals := make([]string, 63)
	for i := range vals {
		vals[i] = "0"
		if i > 31 {
			vals[i] = "100"
		}
	}
	call(t, "POST", srv.URL+"/api/search", `{"values": [`+strings.Join(vals, ",")+`], "limit": 5}`, 200, &r)
	if len(r.Results) != 5 {
		t.Errorf("search: %d results, want 5", len(r.Results))
	}
	call(t, "POST", srv.URL+"/api/search", `{"values": [1]}`, 400, nil)
	call(t, "POST", srv.URL+"/api/search", `{"values": [1, null, 2]}`, 400, nil)
	call(t, "POST", srv.URL+"/api/search", `{"values": [1, 2], "extra": 1}`, 400, nil)
	call(t, "POST", srv.URL+"/api/search", `{"values": [1, 2]} {}`, 400, nil)
	call(t, "POST", srv.URL+"/api/search", `not json`, 400, nil)
	call(t, "POST", srv.URL+"/api/search", `{"values": [1, 2], "limit": 100000}`, 400, nil)
}

func TestAPIBeforeFirstImport(t *testing.T) {
	srv := newOculusServer(t, false)
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00000.m01", "", 503, nil)
	call(t, "POST", srv.URL+"/api/search", `{"values": [1, 2, 3]}`, 503, nil)
}

func TestAPIOculusOff(t *testing.T) {
	srv, _ := newServer(t)
	call(t, "GET", srv.URL+"/api/correlate?metric=web.a", "", 503, nil)
	call(t, "GET", srv.URL+"/api/collections", "", 503, nil)
}

func TestAPICollections(t *testing.T) {
	srv := newOculusServer(t, true)
	var list struct {
		Collections []struct {
			ID, Name, Description string
			Metrics               []string
		}
	}
	call(t, "GET", srv.URL+"/api/collections", "", 200, &list)
	if len(list.Collections) != 0 {
		t.Fatalf("new index lists %+v", list)
	}
	var c oculus.Collection
	call(t, "POST", srv.URL+"/api/collections", `{"name": "March disk full", "description": "<b>db1</b> filled /var",
		"metrics": ["planted.g00002.m00", "planted.g00002.m01"]}`, 201, &c)
	if c.ID != "march-disk-full" || len(c.Members) != 2 || len(c.Members[0].Values) == 0 {
		t.Fatalf("created %+v", c)
	}
	call(t, "POST", srv.URL+"/api/collections", `{"name": "March disk full"}`, 409, nil)
	call(t, "POST", srv.URL+"/api/collections", `{"description": "no name"}`, 400, nil)
	call(t, "POST", srv.URL+"/api/collections", `{"name": "x", "metrics": ["nope"]}`, 404, nil)
	call(t, "GET", srv.URL+"/api/collections", "", 200, &list)
	if len(list.Collections) != 1 || list.Collections[0].Description != "<b>db1</b> filled /var" ||
		strings.Join(list.Collections[0].Metrics, ",") != "planted.g00002.m00,planted.g00002.m01" {
		t.Errorf("list %+v", list)
	}
	var got oculus.Collection
	call(t, "GET", srv.URL+"/api/collections/march-disk-full", "", 200, &got)
	if got.Name != "March disk full" || len(got.Members) != 2 {
		t.Errorf("get %+v", got)
	}
	// A correlated search on a member's partner lists the collection.
	var r correlateJSON
	call(t, "GET", srv.URL+"/api/correlate?metric=planted.g00002.m05", "", 200, &r)
	if len(r.Collections) != 1 || r.Collections[0].ID != "march-disk-full" {
		t.Errorf("correlate lists collections %+v", r.Collections)
	}
	call(t, "POST", srv.URL+"/api/collections/march-disk-full", `{"name": "Disk full, March"}`, 200, &got)
	if got.Name != "Disk full, March" || got.ID != "march-disk-full" || len(got.Members) != 2 {
		t.Errorf("renamed %+v", got)
	}
	call(t, "POST", srv.URL+"/api/collections/nope", `{"name": "x"}`, 404, nil)
	call(t, "DELETE", srv.URL+"/api/collections/march-disk-full", "", 200, nil)
	call(t, "DELETE", srv.URL+"/api/collections/march-disk-full", "", 404, nil)
	call(t, "GET", srv.URL+"/api/collections/march-disk-full", "", 404, nil)
}
