package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// serverLogger adapts the Temporal server's logger interface to slog. The server logs dozens of info lines per
// second while it starts (ring membership, shard ownership, task queue loading), which would bury the lines a
// developer cares about, so the adapter drops everything below its level (warn by default).
type serverLogger struct {
	log   *slog.Logger
	level slog.Leveler
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

// newServerLogger returns a server logger writing to l at level and above.
func newServerLogger(l *slog.Logger, level slog.Leveler) serverLogger {
	return serverLogger{log: l.With("logger", "temporal-server"), level: level}
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// DPanic is an error in production builds of the server, and so it is here.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// Panic and Fatal must not return: the server code after them assumes they did not (a Fatal after a failed listen
// is followed by a use of the nil listener). Panicking keeps the message and a stack trace, where os.Exit would
// also skip the deferred shutdown of the private PostgreSQL cluster.
func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.emitAlways(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

// Fatal: see Panic.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.emitAlways(slog.LevelError, msg, tags)
	panic("temporal server (fatal): " + msg)
}

// With returns a logger that adds tags to every line, as the server expects of loggers it derives per component.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{log: s.log.With(attrsToArgs(tagsToAttrs(tags))...), level: s.level}
}

// SLog lets server components that log through slog use ours. It applies the same level, or those components
// would bypass the quiet filter.
func (s serverLogger) SLog() *slog.Logger {
	return slog.New(levelHandler{level: s.level, next: s.log.Handler()})
}

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.level.Level() {
		return
	}
	s.emitAlways(level, msg, tags)
}

func (s serverLogger) emitAlways(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := tagsToAttrs(tags)
	if l, ok := s.level.(*serverLogLevel); ok && l.stopping.Load() && unavailable(attrs) {
		// While stopping, services refuse calls from services stopping later with Unavailable, and cancel what they
		// were doing; the server logs both as errors ("task queue closed", "context canceled"). They mean "retry
		// later", and later is the next start, so they say nothing a developer must act on.
		return
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

// unavailable reports whether a log line is about a call refused or cancelled because a service is stopping.
func unavailable(attrs []slog.Attr) bool {
	for _, a := range attrs {
		v := a.Value.Resolve().String()
		switch a.Key {
		case "grpc_code":
			if v == "Unavailable" || v == "Canceled" {
				return true
			}
		case "error-type":
			if strings.HasSuffix(v, "serviceerror.Unavailable") || strings.HasSuffix(v, "serviceerror.Canceled") {
				return true
			}
		case "error":
			if strings.HasSuffix(v, context.Canceled.Error()) {
				return true
			}
		}
	}
	return false
}

// tagsToAttrs turns server log tags into slog attributes. Almost all tags wrap a zap field; encoding the field
// gives the same value zap would print (an error's message, a duration, a string list) instead of the raw struct.
func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		zt, ok := t.(tag.ZapTag)
		if !ok {
			attrs = append(attrs, slog.Any(t.Key(), t.Value()))
			continue
		}
		enc := zapcore.NewMapObjectEncoder()
		zt.Field().AddTo(enc)
		if v, ok := enc.Fields[t.Key()]; ok {
			// An error field also adds "<key>Verbose" with a stack trace when the error has one; the message is
			// what a developer reads, the trace is noise at warn level.
			attrs = append(attrs, slog.Any(t.Key(), v))
			continue
		}
		keys := make([]string, 0, len(enc.Fields))
		for k := range enc.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k, enc.Fields[k]))
		}
	}
	return attrs
}

func attrsToArgs(attrs []slog.Attr) []any {
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	return args
}

// levelHandler drops records below level before they reach next.
type levelHandler struct {
	level slog.Leveler
	next  slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}

func (h levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.level.Level() {
		return nil
	}
	if err := h.next.Handle(ctx, r); err != nil {
		return fmt.Errorf("temporal server log: %w", err)
	}
	return nil
}

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{level: h.level, next: h.next.WithAttrs(attrs)}
}

// serverLogLevel is the server logger's level: the configured one, raised to error once shutdown begins. While
// the server stops, its system workers keep polling services that are already gone and warn about every failed
// poll and dial; those lines would follow every Ctrl-C and say nothing about a problem.
type serverLogLevel struct {
	base     slog.Leveler
	stopping atomic.Bool
}

func (l *serverLogLevel) Level() slog.Level {
	if l.stopping.Load() {
		return max(l.base.Level(), slog.LevelError)
	}
	return l.base.Level()
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{level: h.level, next: h.next.WithGroup(name)}
}
