package devstack

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/server/common/log/tag"
)

func TestServerLogger(t *testing.T) {
	tests := []struct {
		name     string
		log      func(l serverLogger)
		want     string // empty: nothing may be written
		minLevel slog.Level
		stopping bool // the server is shutting down
	}{
		{
			name:     "info_dropped_at_default_level",
			log:      func(l serverLogger) { l.Info("acquired shard", tag.ShardID(1)) },
			minLevel: slog.LevelWarn,
		},
		{
			name:     "info_from_derived_logger_dropped",
			log:      func(l serverLogger) { l.With(tag.ShardID(1)).Info("acquired shard") },
			minLevel: slog.LevelWarn,
		},
		{
			name:     "info_through_slog_wrapper_dropped",
			log:      func(l serverLogger) { l.SLog().Info("acquired shard") },
			minLevel: slog.LevelWarn,
		},
		{
			name:     "warn_kept_with_error_message",
			log:      func(l serverLogger) { l.Warn("persistence slow", tag.Error(errors.New("database is locked"))) },
			want:     `level=WARN msg="persistence slow" logger=temporal-server error="database is locked"`,
			minLevel: slog.LevelWarn,
		},
		{
			name:     "derived_tags_kept",
			log:      func(l serverLogger) { l.With(tag.ShardID(7)).Error("shard lost") },
			want:     `msg="shard lost" logger=temporal-server shard-id=7`,
			minLevel: slog.LevelWarn,
		},
		{
			name: "unavailable_during_shutdown_dropped",
			log: func(l serverLogger) {
				l.Error("service failures", tag.NewStringTag("grpc_code", "Unavailable"), tag.Error(errors.New("task queue closed")))
			},
			minLevel: slog.LevelWarn,
			stopping: true,
		},
		{
			name:     "warn_during_shutdown_dropped",
			log:      func(l serverLogger) { l.Warn("Failed to poll for task.") },
			minLevel: slog.LevelWarn,
			stopping: true,
		},
		{
			name:     "other_error_during_shutdown_kept",
			log:      func(l serverLogger) { l.Error("Failed to stop service", tag.Error(errors.New("timeout"))) },
			want:     `msg="Failed to stop service" logger=temporal-server error=timeout`,
			minLevel: slog.LevelWarn,
			stopping: true,
		},
		{
			name:     "unavailable_while_running_kept",
			log:      func(l serverLogger) { l.Error("service failures", tag.NewStringTag("grpc_code", "Unavailable")) },
			want:     `msg="service failures" logger=temporal-server grpc_code=Unavailable`,
			minLevel: slog.LevelWarn,
		},
		{
			name:     "info_kept_when_asked_for",
			log:      func(l serverLogger) { l.Info("acquired shard") },
			want:     `level=INFO msg="acquired shard"`,
			minLevel: slog.LevelInfo,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})
			level := &serverLogLevel{base: tt.minLevel}
			level.stopping.Store(tt.stopping)
			tt.log(newServerLogger(slog.New(h), level))
			got := buf.String()
			if tt.want == "" && got != "" {
				t.Fatalf("logged %q, want nothing", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("logged %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestServerLoggerFatalDoesNotReturn(t *testing.T) {
	var buf bytes.Buffer
	l := newServerLogger(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn)
	defer func() {
		if recover() == nil {
			t.Fatal("Fatal returned; server code after it would run on a failed state")
		}
		if !strings.Contains(buf.String(), "Failed to start gRPC listener") {
			t.Fatalf("Fatal was not logged: %q", buf.String())
		}
	}()
	l.Fatal("Failed to start gRPC listener")
}
