package vault

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// pcrSelection selects pcrs in the SHA-256 bank.
func pcrSelection(pcrs []uint) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(pcrs...),
	}}}
}

// srk is the storage root key: the TCG reference ECC P-256 template under
// the owner hierarchy, so it is re-created identically on every call and
// never has to be persisted in the TPM's NV memory.
type srk struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public tpm2.TPMTPublic
}

func createSRK(t transport.TPM) (srk, func(), error) {
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(t)
	if err != nil {
		return srk{}, nil, fmt.Errorf("vault: TPM create storage key: %w", err)
	}
	flush := func() { tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(t) }
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush()
		return srk{}, nil, fmt.Errorf("vault: TPM storage key: %w", err)
	}
	return srk{handle: rsp.ObjectHandle, name: rsp.Name, public: *pub}, flush, nil
}

// encrypted is an HMAC session salted to the storage key with AES-128-CFB
// parameter encryption in dir: the sealed secret never crosses the bus in
// the clear.
func (s srk) encrypted(dir tpm2.AuthOption) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, dir, tpm2.Salted(s.handle, s.public))
}

// sealKEK seals secret under the storage key with a policy that requires
// the current values of pcrs. It returns the marshalled public and private
// parts of the sealed object.
func sealKEK(t transport.TPM, pcrs []uint, secret []byte) (pub, priv []byte, err error) {
	s, flush, err := createSRK(t)
	if err != nil {
		return nil, nil, err
	}
	defer flush()
	trial, closeTrial, err := tpm2.PolicySession(t, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
	if err != nil {
		return nil, nil, fmt.Errorf("vault: TPM trial session: %w", err)
	}
	defer closeTrial()
	// An empty digest makes the TPM use the PCRs' current values.
	if _, err := (tpm2.PolicyPCR{PolicySession: trial.Handle(), Pcrs: pcrSelection(pcrs)}).Execute(t); err != nil {
		return nil, nil, fmt.Errorf("vault: TPM PolicyPCR: %w", err)
	}
	dig, err := tpm2.PolicyGetDigest{PolicySession: trial.Handle()}.Execute(t)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: TPM policy digest: %w", err)
	}
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: s.encrypted(tpm2.AESEncryption(128, tpm2.EncryptIn))},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:    tpm2.TPMAlgKeyedHash,
			NameAlg: tpm2.TPMAlgSHA256,
			// No UserWithAuth: only the PCR policy can authorise an unseal.
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true},
			AuthPolicy:       tpm2.TPM2BDigest{Buffer: dig.PolicyDigest.Buffer},
		}),
	}.Execute(t)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: TPM seal: %w", err)
	}
	return tpm2.Marshal(rsp.OutPublic), tpm2.Marshal(rsp.OutPrivate), nil
}

type sealedParts struct {
	pub  *tpm2.TPM2BPublic
	priv *tpm2.TPM2BPrivate
}

// unsealParts decodes the marshalled public and private parts.
func unsealParts(sf sealedFile) (sealedParts, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](sf.Public)
	if err != nil {
		return sealedParts{}, fmt.Errorf("%w: sealed public part: %v", ErrMalformed, err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](sf.Private)
	if err != nil {
		return sealedParts{}, fmt.Errorf("%w: sealed private part: %v", ErrMalformed, err)
	}
	return sealedParts{pub, priv}, nil
}

// unsealKEK loads the sealed object and unseals it in a policy session that
// asserts the PCRs it was sealed to.
func unsealKEK(t transport.TPM, sf sealedFile) ([]byte, error) {
	parts, err := unsealParts(sf)
	if err != nil {
		return nil, err
	}
	pub, priv := parts.pub, parts.priv
	s, flush, err := createSRK(t)
	if err != nil {
		return nil, err
	}
	defer flush()
	obj, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *priv, InPublic: *pub,
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("vault: TPM load sealed key (another TPM, or its owner hierarchy was cleared?): %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: obj.ObjectHandle}.Execute(t)
	sel := pcrSelection(sf.PCRs)
	policy := tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, h tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicyPCR{PolicySession: h, Pcrs: sel}.Execute(t)
		return err
	}, tpm2.AESEncryption(128, tpm2.EncryptOut), tpm2.Salted(s.handle, s.public))
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name, Auth: policy}}.Execute(t)
	if errors.Is(err, tpm2.TPMRCPolicyFail) {
		return nil, ErrPCRMismatch
	}
	if err != nil {
		return nil, fmt.Errorf("vault: TPM unseal: %w", err)
	}
	return rsp.OutData.Buffer, nil
}
