package devserver

import (
	"context"
	"log/slog"
	"os"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts the Temporal server's tag-based logger interface to slog. The server logs
// a lot at info level even when healthy, so records below a threshold (a LevelVar shared with
// Server, which raises it before Stop) are dropped before they reach slog.
type serverLogger struct {
	out      *slog.Logger
	minLevel *slog.LevelVar
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(out *slog.Logger, minLevel *slog.LevelVar) serverLogger {
	return serverLogger{out: out, minLevel: minLevel}
}

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// DPanic panics only in development builds of Temporal; for an embedded server it is an error.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// Panic and Fatal keep their contract (the server relies on them not returning), and are
// logged unconditionally: they explain why the process is going away.
func (l serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.out.LogAttrs(context.Background(), slog.LevelError, msg, attrs(tags)...)
	panic(msg)
}

func (l serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.out.LogAttrs(context.Background(), slog.LevelError, msg, attrs(tags)...)
	os.Exit(1)
}

func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, len(tags))
	for _, a := range attrs(tags) {
		args = append(args, a)
	}
	return serverLogger{out: l.out.With(args...), minLevel: l.minLevel}
}

func (l serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if level < l.minLevel.Level() {
		return
	}
	l.out.LogAttrs(context.Background(), level, msg, attrs(tags)...)
}

func attrs(tags []tag.Tag) []slog.Attr {
	out := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		out = append(out, slog.Any(t.Key(), t.Value()))
	}
	return out
}
