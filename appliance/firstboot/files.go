package firstboot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
