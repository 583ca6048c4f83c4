package secretbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantry/tenantry/domain"
)

// LoadOrCreateKeyFile returns the master key stored at path, creating the file with a
// fresh key (mode 0600, parent directories 0700) when it does not exist. created tells
// the caller to warn that a generated key is in use. Creation is atomic and never
// overwrites: two processes racing end up with the same key. An existing file whose
// content is not a valid key is KindInvalid; the key itself never appears in an error.
func LoadOrCreateKeyFile(path string) (key string, created bool, err error) {
	key, err = readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, domain.E(domain.KindInternal, "key_file", "cannot create the secret key directory", err)
	}
	fresh, err := GenerateKey()
	if err != nil {
		return "", false, err
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return "", false, domain.E(domain.KindInternal, "key_file", "cannot write the secret key file", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; Chmod makes it explicit whatever the umask.
	if err := writeAndSync(tmp, fresh+"\n"); err != nil {
		return "", false, domain.E(domain.KindInternal, "key_file", "cannot write the secret key file", err)
	}
	// Link fails if path appeared meanwhile, so a concurrent creator's key wins.
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links on this file system: exclusive create is the next best thing.
		err = createExclusive(path, fresh+"\n")
	}
	if errors.Is(err, fs.ErrExist) {
		key, err = readKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return "", false, domain.E(domain.KindInternal, "key_file", "cannot write the secret key file", err)
	}
	return fresh, true, nil
}

func createExclusive(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeAndSync(f, content); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

func writeAndSync(f *os.File, content string) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", domain.E(domain.KindInternal, "key_file", "cannot read the secret key file", err)
	}
	raw, err := DecodeKey(string(b))
	if err != nil {
		return "", errBadKey.WithDetail("the key file %s does not hold base64 of exactly 32 bytes", path)
	}
	clear(raw)
	return strings.TrimSpace(string(b)), nil
}
