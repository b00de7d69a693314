package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// staticFiles serves web/static under /static/<version>/, where version is a hash of every embedded file: a
// release that changes any file changes every URL, so browsers may keep each one for a year without asking.
// A request with another version (a page from the previous release during a rollout) still gets the file, but
// must revalidate.
type staticFiles struct {
	version string
	fsys    fs.FS
	files   http.Handler
}

func newStaticFiles() (*staticFiles, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &staticFiles{version: hex.EncodeToString(h.Sum(nil))[:12], fsys: sub, files: http.FileServerFS(sub)}, nil
}

// url is the versioned URL of a file under web/static ("vendor/dkfds/css/dkfds.min.css").
func (s *staticFiles) url(file string) string {
	return "/static/" + s.version + "/" + strings.TrimPrefix(file, "/")
}

func (s *staticFiles) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/static/")
	version, file, ok := strings.Cut(rest, "/")
	if !ok || file == "" || strings.HasSuffix(file, "/") {
		http.NotFound(rw, r)
		return
	}
	file = path.Clean(file)
	if st, err := fs.Stat(s.fsys, file); err != nil || st.IsDir() {
		http.NotFound(rw, r) // no directory listings
		return
	}
	if version == s.version {
		rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		rw.Header().Set("Cache-Control", "no-cache")
	}
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + file
	s.files.ServeHTTP(rw, r2)
}
