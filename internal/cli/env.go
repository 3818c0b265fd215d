package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "WEBROUTER_"

// envAnnotation marks a flag whose usage already names its variable.
const envAnnotation = "webrouter_env"

// envName returns the variable that sets flag name: "admin-token" →
// "WEBROUTER_ADMIN_TOKEN".
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// skipEnv says whether flag name is exempt from environment binding.
func skipEnv(name string) bool { return name == "help" }

// bindEnv sets every flag of fs that the command line did not give from its
// environment variable, when that variable is non-empty. A flag set this way
// counts as given (pflag's Changed). A value the flag cannot parse is a usage
// error naming the variable. Call it after the flags are parsed.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || skipEnv(f.Name) {
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

// annotateEnv appends "[$WEBROUTER_…]" to the usage of every flag in the
// tree under cmd, so that --help shows where else it can be set.
func annotateEnv(cmd *cobra.Command) {
	note := func(f *pflag.Flag) {
		if skipEnv(f.Name) || f.Annotations[envAnnotation] != nil {
			return
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{envName(f.Name)}
		f.Usage += " [$" + envName(f.Name) + "]"
	}
	cmd.LocalFlags().VisitAll(note)
	cmd.PersistentFlags().VisitAll(note)
	for _, sub := range cmd.Commands() {
		annotateEnv(sub)
	}
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
