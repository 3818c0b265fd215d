package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "WEBROUTER_"

// envAnnotation marks a flag that its environment variable may set.
const envAnnotation = "webrouter_env"

// envName returns the variable that sets flag name: "admin-token" →
// "WEBROUTER_ADMIN_TOKEN".
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv sets every flag of fs that was marked with envFlags and that the
// command line did not give from its environment variable, when that
// variable is non-empty. A flag set this way counts as given (pflag's
// Changed). A value the flag cannot parse is a usage error naming the
// variable. Call it after the flags are parsed.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Annotations[envAnnotation] == nil {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usagef("environment variable %s (for --%s): %v", name, f.Name, serr)
		}
	})
	return err
}

// envFlags marks every flag of fs as settable from its environment
// variable and appends "[$WEBROUTER_…]" to its usage. Only the router's own
// settings and the admin connection flags are marked: a variable such as
// WEBROUTER_WEIGHT silently changing what `instance put` writes would be a
// trap.
func envFlags(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{envName(f.Name)}
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

// enum is a string flag value restricted to a fixed set, so that a bad value
// fails when parsed — from the command line or the environment alike.
type enum struct {
	value   *string
	allowed []string
}

// newEnum returns an enum over allowed, writing to p, holding def.
func newEnum(p *string, def string, allowed ...string) *enum {
	*p = def
	return &enum{value: p, allowed: allowed}
}

// String implements pflag.Value.
func (e *enum) String() string { return *e.value }

// Set implements pflag.Value.
func (e *enum) Set(s string) error {
	for _, a := range e.allowed {
		if s == a {
			*e.value = s
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(e.allowed, ", "))
}

// Type implements pflag.Value; help shows it as the value's placeholder.
func (e *enum) Type() string { return strings.Join(e.allowed, "|") }
