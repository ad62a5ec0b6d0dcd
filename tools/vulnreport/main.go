// Command vulnreport reads `govulncheck -format json` on standard input and
// decides: a vulnerability the code calls in a required module fails the
// check (exit 1); one in the standard library is reported but fails only
// with -stdlib=fail, because it is fixed by the Go toolchain, not by this
// repository (the machines' Go is named in the README).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
}

type message struct {
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

func main() {
	stdlib := flag.String("stdlib", "warn", "what a called standard-library vulnerability does: warn or fail")
	flag.Parse()
	called := map[string]string{} // OSV id -> "module@version, fixed in ..."
	stdlibIDs := map[string]bool{}
	dec := json.NewDecoder(os.Stdin)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulnreport: reading govulncheck output:", err)
			os.Exit(2)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue // not reached from this code
		}
		top := f.Trace[0]
		called[f.OSV] = fmt.Sprintf("%s@%s (%s), fixed in %s", top.Module, top.Version, top.Package, f.FixedVersion)
		if top.Module == "stdlib" {
			stdlibIDs[f.OSV] = true
		}
	}
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fail := false
	for _, id := range ids {
		kind := "module"
		if stdlibIDs[id] {
			kind = "stdlib"
		}
		fmt.Printf("%s %s: %s\n", kind, id, called[id])
		fail = fail || !stdlibIDs[id] || *stdlib == "fail"
	}
	fmt.Printf("vulnreport: %d called vulnerabilities (%d in the standard library)\n", len(ids), len(stdlibIDs))
	if fail {
		os.Exit(1)
	}
}
