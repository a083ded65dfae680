package elastic

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// zincDeleteIndex deletes an index through ZincSearch's own API, DELETE
// <root>/api/index/<name>, where <root> is a configured URL without its
// trailing /es (ZincSearch serves the Elasticsearch API under /es and
// answers 404 to DELETE /es/<index>). It is only called after DELETE
// /<index> answered a 404 that was not an Elasticsearch error, i.e. the
// route does not exist.
func (x *Index) zincDeleteIndex(ctx context.Context, name string) error {
	var errs []string
	for _, raw := range x.urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		root, ok := strings.CutSuffix(strings.TrimRight(u.Path, "/"), "/es")
		if !ok {
			continue
		}
		u.Path, u.RawPath = root+"/api/index/"+name, ""
		status, body, err := x.zincRequest(ctx, http.MethodDelete, u)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		switch {
		case status == http.StatusOK:
			return nil
		case status == http.StatusBadRequest && strings.Contains(string(body), "does not exist"):
			return nil // gone already
		}
		errs = append(errs, fmt.Sprintf("%s: %d %s", u.Redacted(), status, excerpt(body)))
	}
	if len(errs) == 0 {
		return fmt.Errorf("oculus/elastic: DELETE /%s answered 404 without an Elasticsearch error, so the server has no such route; "+
			"if it is ZincSearch, its URL must end in /es so that Kale can use ZincSearch's own DELETE /api/index/%s", name, name)
	}
	return fmt.Errorf("oculus/elastic: cannot delete index %s through ZincSearch's API: %s", name, strings.Join(errs, "; "))
}

// zincRequest sends an authenticated request outside the Elasticsearch
// API, on the client's transport.
func (x *Index) zincRequest(ctx context.Context, method string, u *url.URL) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	user, password := x.user, x.password
	if u.User != nil { // credentials in the URL win, as in the client
		user = u.User.Username()
		password, _ = u.User.Password()
		u = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	res, err := (&http.Client{Transport: x.tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, body, err
}
