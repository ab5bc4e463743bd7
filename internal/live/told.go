package live

import "strings"

// afterTold is caption e as a viewer of a taken-over session should get
// it, told being the end (session seconds) of the last final the viewers
// were told before the takeover: the new owner re-recognises from a little
// before it (replayLead), so a caption may begin with words already told.
// Those words are cut (a word belongs to the side of told its middle is
// on) and the caption starts at the first word left, no earlier than
// told (a word straddling told is clipped to it); a caption with
// nothing left, or without word times and ending by told, is dropped
// (ok false). Captions wholly after told pass unchanged.
func afterTold(e Event, told float64) (Event, bool) {
	if told <= 0 || e.Type != TypeCaption || e.Start >= told-0.02 {
		return e, true
	}
	if len(e.Words) == 0 {
		return e, e.End > told+0.02
	}
	i := 0
	for i < len(e.Words) && (e.Words[i].Start+e.Words[i].End)/2 <= told {
		i++
	}
	if i == len(e.Words) {
		return e, false
	}
	if i == 0 {
		return e, true
	}
	words := make([]Word, len(e.Words)-i)
	copy(words, e.Words[i:])
	text := make([]string, len(words))
	for j, w := range words {
		text[j] = w.Word
	}
	words[0].Start = max(words[0].Start, told)
	e.Words, e.Text, e.Start = words, strings.Join(text, " "), words[0].Start
	return e, true
}
