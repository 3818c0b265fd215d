package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/client"
)

// Output formats of -o/--output.
const (
	outTable = "table"
	outJSON  = "json"
)

// render writes doc to stdout: indented JSON with -o json, otherwise
// whatever table writes for people.
func (a *app) render(doc any, table func(w io.Writer) error) error {
	if a.output == outJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(doc)
	}
	return table(a.stdout)
}

// fetch gets one document from the admin API with get and renders it as
// JSON or with table: the body of every command that shows something.
func fetch[T any](a *app, cmd *cobra.Command, get func(context.Context, *client.Client) (T, error), table func(io.Writer, T) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	doc, err := get(cmd.Context(), c)
	if err != nil {
		return err
	}
	return a.render(doc, func(w io.Writer) error { return table(w, doc) })
}

// table collects rows of cells and writes them aligned in columns two
// spaces apart, without trailing blanks. Rows may have different lengths.
type table struct {
	rows [][]string
}

// row appends one row.
func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// write aligns the rows with text/tabwriter and writes them to w.
func (t *table) write(w io.Writer) error {
	width := 0
	for _, r := range t.rows {
		width = max(width, len(r))
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	for _, r := range t.rows {
		// Every cell, padding included, ends in a tab so that all rows share
		// every column block.
		for i := 0; i < width; i++ {
			cell := ""
			if i < len(r) {
				cell = r[i]
			}
			fmt.Fprint(tw, cell, "\t")
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// instanceHeader names the columns of an instance row.
func instanceHeader() []string {
	return []string{"ID", "ADDRESS", "WEIGHT", "STATE", "HEALTH", "IN-FLIGHT"}
}

// instanceRow is one instance as table cells, its id prefixed by indent.
func instanceRow(indent string, in api.Instance) []string {
	return []string{indent + in.ID, in.HostPort(), strconv.Itoa(in.Weight), string(in.State), orDash(in.Health), strconv.FormatInt(in.InFlight, 10)}
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeRoutes writes the live table: a generation/revision line, then one
// row per route with its instances indented below it.
func writeRoutes(w io.Writer, r api.Routes) error {
	fmt.Fprintf(w, "generation %d, revision %d\n", r.Generation, r.Revision)
	t := &table{}
	t.row("HOST", "PATH", "SERVICE", "BALANCE", "INSTANCES")
	t.row(prefixFirst("  ", instanceHeader())...)
	for _, rt := range r.Routes {
		t.row(rt.Host, rt.Path, rt.Service, rt.Balance, strconv.Itoa(len(rt.Instances)))
		for _, in := range rt.Instances {
			t.row(instanceRow("  ", in)...)
		}
	}
	if err := t.write(w); err != nil {
		return err
	}
	if err := writeStreamRoutes(w, r); err != nil {
		return err
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "problems:")
		for _, p := range r.Problems {
			fmt.Fprintln(w, "  -", p)
		}
	}
	return nil
}

// prefixFirst returns cells with prefix added to the first one.
func prefixFirst(prefix string, cells []string) []string {
	out := append([]string(nil), cells...)
	if len(out) > 0 {
		out[0] = prefix + out[0]
	}
	return out
}

// writeServiceList writes one row per service.
func writeServiceList(w io.Writer, l api.ServiceList) error {
	t := &table{}
	t.row("NAME", "MOUNTPOINTS", "INSTANCES", "BALANCE")
	for _, s := range l.Services {
		t.row(s.Name, strings.Join(s.Mountpoints, ","), strconv.Itoa(len(s.Instances)), s.Balance)
	}
	return t.write(w)
}

// writeService writes a service's settings, then its instances.
func writeService(w io.Writer, s api.Service) error {
	hc := s.Healthcheck
	if hc == "" {
		hc = "none"
	}
	t := &table{}
	t.row("name:", s.Name)
	t.row("mountpoints:", strings.Join(s.Mountpoints, ", "))
	t.row("healthcheck:", hc)
	t.row("https_only:", strconv.FormatBool(s.HTTPSOnly))
	t.row("balance:", s.Balance)
	t.row("strip_prefix:", strconv.FormatBool(s.StripPrefix))
	t.row("max_fails:", strconv.Itoa(s.MaxFails))
	t.row("fail_timeout:", s.FailTimeout.String())
	streamRows(t, s.Service)
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeInstances(w, s.Instances)
}

// writeInstances writes one row per instance.
func writeInstances(w io.Writer, ins []api.Instance) error {
	t := &table{}
	t.row(instanceHeader()...)
	for _, in := range ins {
		t.row(instanceRow("", in)...)
	}
	return t.write(w)
}

// writeInstance writes one instance with all its runtime state.
func writeInstance(w io.Writer, in api.Instance) error {
	t := &table{}
	t.row("id:", in.ID)
	t.row("address:", in.HostPort())
	t.row("weight:", strconv.Itoa(in.Weight))
	t.row("state:", string(in.State))
	if in.TTL != 0 {
		t.row("ttl:", in.TTL.String())
	}
	t.row("health:", orDash(in.Health))
	t.row("in_flight:", strconv.FormatInt(in.InFlight, 10))
	t.row("requests:", strconv.FormatUint(in.Requests, 10))
	t.row("fails:", strconv.Itoa(in.Fails))
	down := ""
	if !in.DownUntil.IsZero() {
		down = in.DownUntil.Format(time.RFC3339)
	}
	t.row("down_until:", orDash(down))
	return t.write(w)
}

// writeStatus writes the router's own state.
func writeStatus(w io.Writer, s api.Status) error {
	t := &table{}
	t.row("version:", s.Version)
	t.row("pid:", strconv.Itoa(s.PID))
	t.row("registry:", s.Registry)
	t.row("state:", s.State)
	if s.Reason != "" {
		t.row("reason:", s.Reason)
	}
	t.row("generation:", strconv.FormatUint(s.Generation, 10))
	t.row("revision:", strconv.FormatUint(s.Revision, 10))
	t.row("services:", strconv.Itoa(s.Services))
	t.row("instances:", strconv.Itoa(s.Instances))
	t.row("addresses:", strconv.Itoa(s.Addresses))
	t.row("started:", s.Started.Format(time.RFC3339))
	return t.write(w)
}

// writeUpgrade reports a finished upgrade.
func writeUpgrade(w io.Writer, u api.Upgrade) error {
	_, err := fmt.Fprintf(w, "upgraded: %s (old pid %d)\n", u.Message, u.OldPID)
	return err
}
