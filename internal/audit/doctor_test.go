package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
)

func TestFindings(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	l.Close()
	o := e.opts()
	cfg := config.Audit{CheckpointPath: o.CheckpointPath, SignerKeyPath: o.SignerKeyPath, PseudonymKeyPath: o.PseudonymKeyPath}
	db := filepath.Join(e.dir, "izwi.db")
	got := Findings(cfg, db)
	if len(got) != 1 || got[0].Severity != "info" || !strings.Contains(got[0].Message, "same filesystem") {
		t.Fatalf("fresh install: %+v", got)
	}
	os.Chmod(o.SignerKeyPath, 0o640)
	os.Chmod(o.CheckpointPath, 0o666)
	os.Remove(o.SignerKeyPath + ".pub")
	got = Findings(cfg, db)
	var msgs []string
	for _, f := range got {
		if f.Severity == "warning" {
			msgs = append(msgs, f.Message)
		}
	}
	all := strings.Join(msgs, "\n")
	if len(msgs) != 3 || !strings.Contains(all, "signer key") || !strings.Contains(all, "checkpoint file") || !strings.Contains(all, ".pub is missing") {
		t.Fatalf("unsafe files: %+v", got)
	}
}
