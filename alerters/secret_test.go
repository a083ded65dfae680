package alerters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const secretValue = "hunter2-TOP-secret"

// holder is a config struct with secrets in it.
type holder struct {
	Name     string            `yaml:"name" json:"name"`
	Password Secret            `yaml:"password" json:"password"`
	Headers  map[string]Secret `yaml:"headers" json:"headers"`
	Keys     []Secret          `yaml:"keys" json:"keys"`
	Ptr      *Secret           `yaml:"ptr" json:"ptr"`
}

func newHolder() holder {
	s := Secret(secretValue)
	return holder{Name: "n", Password: secretValue, Headers: map[string]Secret{"Authorization": secretValue}, Keys: []Secret{secretValue}, Ptr: &s}
}

// noSecret fails when any text holds the secret, as is or in hex.
func noSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secretValue) || strings.Contains(s, fmt.Sprintf("%x", secretValue)) ||
			strings.Contains(s, fmt.Sprintf("%X", secretValue)) {
			t.Errorf("the secret leaked: %s", s)
		}
	}
}

func TestSecretFormats(t *testing.T) {
	s := Secret(secretValue)
	tests := []struct{ format, want string }{
		{"%v", "[redacted]"},
		{"%+v", "[redacted]"},
		{"%#v", `"[redacted]"`},
		{"%s", "[redacted]"},
		{"%q", `"[redacted]"`},
		{"%x", "[redacted]"},
		{"%X", "[redacted]"},
		{"%d", "[redacted]"},
		{"%20s", "[redacted]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf(tt.format, s); got != tt.want {
			t.Errorf("Sprintf(%q, secret) = %q, want %q", tt.format, got, tt.want)
		}
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want \"\"", got)
	}
	if got := fmt.Sprintf("%#v", Secret("")); got != `""` {
		t.Errorf("empty secret %%#v = %q", got)
	}
	if s.String() != Redacted || s.GoString() != `"[redacted]"` || s.Reveal() != secretValue {
		t.Errorf("String %q GoString %q Reveal %q", s.String(), s.GoString(), s.Reveal())
	}
}

func TestSecretInStructs(t *testing.T) {
	h := newHolder()
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", h, "secret", h.Password, "ptr", h.Ptr)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "config", h, "secret", h.Password, "ptr", h.Ptr)
	noSecret(t,
		fmt.Sprintf("%v", h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h),
		fmt.Sprintf("%v %+v %#v", &h, &h, &h),
		fmt.Sprint(h.Headers, h.Keys), fmt.Sprintf("%#v %#v", h.Headers, h.Keys),
		string(j), string(y), logs.String(),
		fmt.Errorf("cannot connect with %v: %w", h.Password, fmt.Errorf("x %s", h.Password)).Error(),
	)
	if want := `{"name":"n","password":"[redacted]","headers":{"Authorization":"[redacted]"},"keys":["[redacted]"],"ptr":"[redacted]"}`; string(j) != want {
		t.Errorf("JSON = %s, want %s", j, want)
	}
	if !strings.Contains(string(y), "password: '[redacted]'") && !strings.Contains(string(y), `password: "[redacted]"`) {
		t.Errorf("YAML = %s", y)
	}
	if !strings.Contains(fmt.Sprintf("%+v", h), "Password:[redacted]") {
		t.Errorf("%%+v = %+v", h)
	}
}

func TestSecretYAMLDecode(t *testing.T) {
	var h holder
	if err := yaml.Unmarshal([]byte("password: abc\nheaders: {X: \"env:TOKEN\"}\n"), &h); err != nil {
		t.Fatal(err)
	}
	if h.Password.Reveal() != "abc" || h.Headers["X"].Reveal() != "env:TOKEN" || !h.Headers["X"].IsEnv() {
		t.Errorf("decoded %q %q", h.Password.Reveal(), h.Headers["X"].Reveal())
	}
}

func TestSecretResolve(t *testing.T) {
	t.Setenv("KALE_TEST_SECRET", secretValue)
	t.Setenv("KALE_TEST_EMPTY", "")
	tests := []struct {
		in      Secret
		want    string
		wantErr string
	}{
		{in: "plain", want: "plain"},
		{in: "", want: ""},
		{in: "env:KALE_TEST_SECRET", want: secretValue},
		{in: "env:KALE_TEST_EMPTY", wantErr: "cannot resolve secret: environment variable KALE_TEST_EMPTY is empty or unset"},
		{in: "env:KALE_TEST_NOT_SET_ANYWHERE", wantErr: "cannot resolve secret: environment variable KALE_TEST_NOT_SET_ANYWHERE is empty or unset"},
		{in: "env:", wantErr: `cannot resolve secret: "env:" names no environment variable`},
	}
	for _, tt := range tests {
		got, err := tt.in.Resolve()
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Resolve(%q) error = %v, want %q", tt.in.Reveal(), err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Reveal() != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.in.Reveal(), got.Reveal(), err, tt.want)
		}
	}
	if diff := cmp.Diff("[redacted]", fmt.Sprint(Secret("env:KALE_TEST_SECRET"))); diff != "" {
		t.Errorf("an env reference prints (-want +got):\n%s", diff)
	}
}
