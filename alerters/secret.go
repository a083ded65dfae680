package alerters

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret is a config string that must not leak: a password, a routing key,
// a token, a webhook URL with a token in it.
//
// Every way of printing it (String, GoString, every fmt verb through
// Format, MarshalText, MarshalJSON, and slog's LogValue) gives
// "[redacted]" when it is non-empty and "" when it is empty, so configs,
// logs and errors that include a Secret never include its value. Reveal
// returns the value; only the code that hands it to the server may call
// it.
//
// In YAML a Secret is a plain string. The form "env:NAME" names an
// environment variable that holds the value; Resolve reads it.
type Secret string

// Redacted is what a non-empty Secret prints as.
const Redacted = "[redacted]"

// envPrefix marks a Secret whose value is in an environment variable.
const envPrefix = "env:"

// String returns "[redacted]", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString returns `"[redacted]"`, or `""` when s is empty (for %#v).
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// Format prints s.String() for every verb (quoted for %q and %#v), so no
// verb or flag prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalText returns s.String(), so text encoders (YAML, slog's
// handlers) print "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns the JSON string of s.String().
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(s.GoString()), nil }

// LogValue returns s.String() as a slog string value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// IsEnv reports whether s is an "env:NAME" reference.
func (s Secret) IsEnv() bool { return strings.HasPrefix(string(s), envPrefix) }

// Resolve returns the value s stands for: the value of environment
// variable NAME when s is "env:NAME", else s itself. It fails, naming the
// variable (never a value), when NAME is empty or the variable is empty or
// unset.
func (s Secret) Resolve() (Secret, error) {
	if !s.IsEnv() {
		return s, nil
	}
	name := strings.TrimPrefix(string(s), envPrefix)
	if name == "" {
		return "", fmt.Errorf("cannot resolve secret: %q names no environment variable", envPrefix)
	}
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("cannot resolve secret: environment variable %s is empty or unset", name)
	}
	return Secret(v), nil
}
