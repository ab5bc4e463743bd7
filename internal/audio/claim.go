package audio

import (
	"bytes"
	"fmt"
	"mime"
)

// claimed maps a media type to the Sniff name it promises.
var claimed = map[string]string{
	"audio/wav": "wav", "audio/wave": "wav", "audio/x-wav": "wav", "audio/vnd.wave": "wav",
	"audio/flac": "flac", "audio/x-flac": "flac",
	"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mp3": "mp3", "audio/x-mpeg": "mp3", "audio/mpga": "mp3",
	"audio/ogg": "ogg", "audio/opus": "ogg", "application/ogg": "ogg",
	"audio/webm": "webm", "video/webm": "webm", "audio/x-matroska": "webm", "video/x-matroska": "webm",
	"audio/mp4": "mp4", "audio/m4a": "mp4", "audio/x-m4a": "mp4", "video/mp4": "mp4", "audio/3gpp": "mp4", "video/3gpp": "mp4",
	"audio/aac": "aac", "audio/x-aac": "aac", "audio/aacp": "aac",
}

// CheckClaim refuses (ErrUnsupported) a file whose first bytes contradict
// the container its Content-Type claims, so a mislabelled upload is named
// rather than guessed at. Types that promise nothing in particular
// (application/octet-stream, audio/*, none) and bytes Sniff does not
// recognise pass: the decoder gives those its own answer. An ID3 tag may
// front MP3 or FLAC, and an M4A's AAC may be claimed as audio/aac.
func CheckClaim(head []byte, contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil
	}
	want, ok := claimed[mt]
	got := Sniff(head)
	if !ok || got == "" || got == want ||
		(got == "mp3" && want == "flac" && bytes.HasPrefix(head, []byte("ID3"))) ||
		(got == "mp4" && want == "aac") {
		return nil
	}
	return fmt.Errorf("audio: the file is %s but its Content-Type says %.40s: %w", got, contentType, ErrUnsupported)
}
