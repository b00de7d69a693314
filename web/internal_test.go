package web

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/helhedsplan/helhedsplan/domain"
)

func TestFormatKr(t *testing.T) {
	tests := []struct {
		name string
		m    domain.Money
		want string
	}{
		{"whole_kroner_without_ore", domain.Kroner(1_234_567), "1.234.567 kr."},
		{"ore_when_not_whole", 123450, "1.234,50 kr."},
		{"zero", 0, "0 kr."},
		{"negative", -domain.Kroner(1_000), "-1.000 kr."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatKr(tt.m); got != tt.want {
				t.Errorf("formatKr(%d) = %q, want %q", tt.m, got, tt.want)
			}
		})
	}
	rounded := []struct {
		m    domain.Money
		want string
	}{{123449, "1.234 kr."}, {123450, "1.235 kr."}, {-123450, "-1.235 kr."}, {domain.Kroner(7), "7 kr."}}
	for _, tt := range rounded {
		if got := formatKrRounded(tt.m); got != tt.want {
			t.Errorf("formatKrRounded(%d) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestFormatDates(t *testing.T) {
	if got := formatDate(domain.NewDate(2025, 12, 31)); got != "31.12.2025" {
		t.Errorf("formatDate = %q", got)
	}
	if got := formatDate(domain.Date{}); got != "" {
		t.Errorf("zero date = %q", got)
	}
	// 23:30 UTC on 31 December is already 1 January in Copenhagen.
	at := domain.NewDate(2025, 12, 31).Time().Add(23*60*60e9 + 30*60e9)
	if got := formatDateTime(at); got != "01.01.2026 kl. 00.30" {
		t.Errorf("formatDateTime = %q", got)
	}
}

// Every embedded page parses, and a broken one is an error at start, naming the page.
func TestTemplatesParseAtStart(t *testing.T) {
	if _, err := parsePages(templateFS, func(s string) string { return s }); err != nil {
		t.Fatalf("embedded templates: %v", err)
	}
	broken := fstest.MapFS{}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) < 8 {
		t.Fatalf("embedded templates: %v %v", files, err)
	}
	for _, f := range files {
		b, err := templateFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		broken[f] = &fstest.MapFile{Data: b}
	}
	broken["templates/work.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{range .Page.Items}}{{end}`)}
	_, err = parsePages(broken, func(s string) string { return s })
	if err == nil || !strings.Contains(err.Error(), "template work") {
		t.Fatalf("broken work template: %v, want an error naming it", err)
	}
}
