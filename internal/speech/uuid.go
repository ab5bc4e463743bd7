package speech

import (
	"crypto/sha256"
	"encoding/hex"
)

// ModelUUID is a stable UUID-shaped identifier of an engine and model,
// derived from their names: what Deepgram's responses call a model's
// uuid (/v1/listen's model_info, /v1/speak's dg-model-uuid).
func ModelUUID(info EngineInfo) string {
	sum := sha256.Sum256([]byte("izwi-model\x00" + info.Engine + "\x00" + info.Model))
	sum[6] = sum[6]&0x0f | 0x50 // version 5-like: name-derived
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
