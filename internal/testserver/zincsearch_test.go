package testserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// hits polls a search of index until it counts want documents.
func hits(t *testing.T, z *Zinc, index string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body := z.ES(t, http.MethodPost, "/"+index+"/_search", `{"size":0,"track_total_hits":true}`)
		var r struct {
			Hits struct {
				Total struct{ Value int } `json:"total"`
			} `json:"hits"`
		}
		if status == http.StatusOK && json.Unmarshal(body, &r) == nil && r.Hits.Total.Value == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never counted %d documents: %d %s", index, want, status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestZinc starts ZincSearch, writes through its Elasticsearch API, checks
// that the product header the Elasticsearch client requires is there, that
// wrong credentials are refused, that data and aliases survive Restart,
// and that DeleteIndexes removes exactly the indexes of a prefix.
func TestZinc(t *testing.T) {
	z := StartZinc(t)
	if !strings.HasPrefix(z.URL, "http://127.0.0.1:") || !strings.HasSuffix(z.URL, "/es") {
		t.Fatalf("URL = %q, want http://127.0.0.1:PORT/es", z.URL)
	}

	resp, err := http.Get(z.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Elastic-Product"); got != "Elasticsearch" {
		t.Errorf("GET /es/ X-Elastic-Product = %q, want Elasticsearch", got)
	}

	for _, ix := range []string{"zt-a-1", "zt-a-2", "other-1"} {
		if status, body := z.ES(t, http.MethodPut, "/"+ix, `{"mappings":{"properties":{"k":{"type":"keyword"}}}}`); status != http.StatusOK {
			t.Fatalf("create %s: %d %s", ix, status, body)
		}
	}
	var bulk bytes.Buffer
	bulk.WriteString(`{"index":{"_id":"1"}}` + "\n" + `{"k":"x"}` + "\n")
	bulk.WriteString(`{"index":{"_id":"2"}}` + "\n" + `{"k":"y"}` + "\n")
	if status, body := z.ES(t, http.MethodPost, "/zt-a-1/_bulk", bulk.String()); status != http.StatusOK {
		t.Fatalf("bulk: %d %s", status, body)
	}
	hits(t, z, "zt-a-1", 2)
	if status, body := z.ES(t, http.MethodPost, "/_aliases", `{"actions":[{"add":{"index":"zt-a-1","alias":"zt-a"}}]}`); status != http.StatusOK {
		t.Fatalf("alias: %d %s", status, body)
	}

	bad := &Zinc{URL: z.URL, User: z.User, Password: "wrong"}
	if status, _ := bad.ES(t, http.MethodPost, "/zt-a-1/_search", `{}`); status != http.StatusUnauthorized {
		t.Errorf("a wrong password got %d, want 401", status)
	}

	z.Restart(t)
	hits(t, z, "zt-a", 2) // through the alias: documents and alias persisted

	if got := z.IndexNames(t, "zt-a-"); !slices.Equal(got, []string{"zt-a-1", "zt-a-2"}) {
		t.Errorf("IndexNames(zt-a-) = %v", got)
	}
	z.DeleteIndexes(t, "zt-a-")
	if got := z.IndexNames(t, "zt-"); len(got) != 0 {
		t.Errorf("after DeleteIndexes, IndexNames(zt-) = %v, want none", got)
	}
	if got := z.IndexNames(t, "other"); !slices.Equal(got, []string{"other-1"}) {
		t.Errorf("DeleteIndexes(zt-a-) touched other indexes: %v", got)
	}
}
