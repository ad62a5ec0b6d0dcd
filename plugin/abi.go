package main

// proxy-wasm log levels (logAt).
const (
	logLevelDebug    = 1
	logLevelInfo     = 2
	logLevelWarn     = 3
	logLevelError    = 4
	logLevelCritical = 5
)

func logDebug(msg string)    { logAt(logLevelDebug, msg) }
func logInfo(msg string)     { logAt(logLevelInfo, msg) }
func logWarn(msg string)     { logAt(logLevelWarn, msg) }
func logError(msg string)    { logAt(logLevelError, msg) }
func logCritical(msg string) { logAt(logLevelCritical, msg) }
