package transcript

import "time"

// SRTTime formats d as an SRT cue time (00:01:02,345), for writers of
// live SRT (internal/outputs) that make one cue at a time.
func SRTTime(d time.Duration) string { return srtTime(d) }
