package firstboot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// transaction writes files durably and together: every file is first
// written and synced to a temporary file beside it (and checked), and
// only when all are ready are they renamed into place, each rename made
// durable by syncing its directory.
type transaction struct {
	staged []staged
}

type staged struct{ tmp, path string }

// stage writes data to a temporary file beside path, with perm, syncs it
// and runs check (if any) on it.
func (t *transaction) stage(path string, data []byte, perm fs.FileMode, check func(tmp string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("firstboot: write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("firstboot: write %s: %w", path, err)
	}
	t.staged = append(t.staged, staged{tmp: f.Name(), path: path})
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check(f.Name())
	}
	if err != nil {
		return fmt.Errorf("firstboot: write %s: %w", path, err)
	}
	return nil
}

// stageSymlink makes a temporary symbolic link to target beside path.
func (t *transaction) stageSymlink(path, target string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-link")
	_ = os.Remove(tmp) // left by a crash
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("firstboot: link %s: %w", path, err)
	}
	t.staged = append(t.staged, staged{tmp: tmp, path: path})
	return nil
}

// commit renames the staged files into place, in the order staged.
func (t *transaction) commit() error {
	for len(t.staged) > 0 {
		s := t.staged[0]
		if err := os.Rename(s.tmp, s.path); err != nil {
			return fmt.Errorf("firstboot: write %s: %w", s.path, err)
		}
		t.staged = t.staged[1:]
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("firstboot: write %s: %w", s.path, err)
		}
	}
	return nil
}

// abort removes the temporary files not committed.
func (t *transaction) abort() {
	for _, s := range t.staged {
		_ = os.Remove(s.tmp)
	}
	t.staged = nil
}

// WriteFile writes data to path durably: to a temporary file beside it
// with perm, synced, renamed into place, and the directory synced. A
// crash leaves the old file or the new one, never a part. The directory
// is made (0750 before the umask) if missing.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	var t transaction
	defer t.abort()
	if err := t.stage(path, data, perm, nil); err != nil {
		return err
	}
	return t.commit()
}

// removeDurably removes path and syncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("firstboot: remove %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("firstboot: remove %s: %w", path, err)
	}
	return nil
}

// setAside renames a setup file that cannot be applied to path +
// RejectedSuffix (replacing an older one), durably.
func setAside(path string) error {
	if err := os.Rename(path, path+RejectedSuffix); err != nil {
		return fmt.Errorf("firstboot: set %s aside: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("firstboot: set %s aside: %w", path, err)
	}
	return nil
}

// readSettings reads a settings file of at most maxSettingsBytes.
func readSettings(path string) ([]byte, error) {
	return readRegular(path, maxSettingsBytes)
}

// readRegular reads the regular file at path, of at most limit bytes,
// without following a symbolic link: the file is checked before it is
// opened and again once open (the same file), so a link swapped in
// between is refused too. A missing file is fs.ErrNotExist.
func readRegular(path string, limit int64) ([]byte, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%v)", path, before.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(before, opened) {
		return nil, fmt.Errorf("%s: replaced while being opened", path)
	}
	if opened.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, opened.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return data, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mergeKeys returns the authorized_keys file at path with the keys it
// lacks appended (a key is its type and data; comments do not count),
// and how many were added.
func mergeKeys(path string, keys []string) ([]byte, int, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("firstboot: read %s: %w", path, err)
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		have[keyID(sc.Text())] = true
	}
	out := bytes.Clone(old)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	added := 0
	for _, k := range keys {
		if have[keyID(k)] {
			continue
		}
		have[keyID(k)] = true
		out = append(out, strings.TrimSpace(k)+"\n"...)
		added++
	}
	return out, added, nil
}

// keyID is a key line's type and data, the part that identifies the key.
func keyID(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return strings.TrimSpace(line)
	}
	return f[0] + " " + f[1]
}
