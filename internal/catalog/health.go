package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// healthFromSpec validates the active health check options of spec and
// fills them in s, with defaults, when s.Healthcheck is set. Options given
// without a healthcheck are an error: they would do nothing.
func (s *Service) healthFromSpec(spec ServiceSpec) error {
	if s.Healthcheck == "" {
		for field, set := range map[string]bool{
			"health_interval": spec.HealthInterval != "", "health_timeout": spec.HealthTimeout != "",
			"health_rise": spec.HealthRise != nil, "health_fall": spec.HealthFall != nil, "health_status": spec.HealthStatus != "",
		} {
			if set {
				return fieldErr(field, "set without a healthcheck; give \"healthcheck\": \"/path\" or \"tcp\"")
			}
		}
		return nil
	}
	s.HealthInterval, s.HealthTimeout = Duration(DefaultHealthInterval), Duration(DefaultHealthTimeout)
	s.HealthRise, s.HealthFall, s.HealthStatus = DefaultHealthRise, DefaultHealthFall, DefaultHealthStatus
	for _, d := range []struct {
		field, text string
		dst         *Duration
	}{{"health_interval", spec.HealthInterval, &s.HealthInterval}, {"health_timeout", spec.HealthTimeout, &s.HealthTimeout}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return fieldErr(d.field, "%q is not a duration; want e.g. \"3s\"", d.text)
		}
		if v < 100*time.Millisecond || v > time.Hour {
			return fieldErr(d.field, "%s is outside 100ms–1h", v)
		}
		*d.dst = Duration(v)
	}
	if s.HealthTimeout > s.HealthInterval {
		return fieldErr("health_timeout", "%s is longer than health_interval %s", s.HealthTimeout, s.HealthInterval)
	}
	for _, c := range []struct {
		field string
		v     *int
		dst   *int
	}{{"health_rise", spec.HealthRise, &s.HealthRise}, {"health_fall", spec.HealthFall, &s.HealthFall}} {
		if c.v == nil {
			continue
		}
		if *c.v < 1 || *c.v > 100 {
			return fieldErr(c.field, "%d is outside 1–100", *c.v)
		}
		*c.dst = *c.v
	}
	if spec.HealthStatus != "" {
		if s.Healthcheck == "tcp" {
			return fieldErr("health_status", "a tcp health check has no status")
		}
		if _, err := ParseStatusSet(spec.HealthStatus); err != nil {
			return fieldErr("health_status", "%v", err)
		}
		s.HealthStatus = spec.HealthStatus
	}
	if s.Healthcheck == "tcp" {
		s.HealthStatus = ""
	}
	return nil
}

// StatusSet is a set of HTTP status codes: ranges and single codes.
type StatusSet [][2]int

// ParseStatusSet parses "200-399" or "200,204,300-302".
func ParseStatusSet(text string) (StatusSet, error) {
	var set StatusSet
	for _, part := range strings.Split(text, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("%q: want status codes or ranges in 100–599, e.g. \"200-399\" or \"200,204\"", text)
		}
		set = append(set, [2]int{a, b})
	}
	return set, nil
}

// Has reports whether code is in the set.
func (s StatusSet) Has(code int) bool {
	for _, r := range s {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}
