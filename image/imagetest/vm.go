//go:build imagetest

// Package imagetest boots the built SD card image in QEMU and checks it
// from the host (make image-test). It is built only with the imagetest
// tag: it needs an image from make image, qemu-system-aarch64, mtools and
// an SSH client.
package imagetest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// partition is one MBR entry, in bytes.
type partition struct{ Offset, Size int64 }

// partitions reads the image's MBR: the four primary entries.
func partitions(img string) ([4]partition, error) {
	var parts [4]partition
	f, err := os.Open(img)
	if err != nil {
		return parts, err
	}
	defer f.Close()
	mbr := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		return parts, fmt.Errorf("read MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return parts, errors.New("no MBR signature")
	}
	for i := range parts {
		e := mbr[446+16*i:]
		parts[i] = partition{
			Offset: int64(binary.LittleEndian.Uint32(e[8:])) * 512,
			Size:   int64(binary.LittleEndian.Uint32(e[12:])) * 512,
		}
	}
	return parts, nil
}

// Disk is a test copy of the image.
type Disk struct {
	Path  string
	Parts [4]partition
}

// NewDisk copies img (sparse) into dir and grows it by grow bytes, as a
// bigger SD card would be.
func NewDisk(t *testing.T, img, dir string, grow int64) *Disk {
	t.Helper()
	path := filepath.Join(dir, "disk.img")
	run(t, "cp", "--sparse=always", img, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()+grow); err != nil {
		t.Fatal(err)
	}
	parts, err := partitions(path)
	if err != nil {
		t.Fatalf("%s: %v", img, err)
	}
	return &Disk{Path: path, Parts: parts}
}

// boot addresses the FAT boot partition for mtools.
func (d *Disk) boot() string { return fmt.Sprintf("%s@@%d", d.Path, d.Parts[0].Offset) }

// ReadBoot returns a file of the boot partition.
func (d *Disk) ReadBoot(t *testing.T, name string) string {
	t.Helper()
	return run(t, "mtype", "-i", d.boot(), "::"+name)
}

// CopyOutBoot copies a file of the boot partition to dst.
func (d *Disk) CopyOutBoot(t *testing.T, name, dst string) {
	t.Helper()
	run(t, "mcopy", "-n", "-i", d.boot(), "::"+name, dst)
}

// WriteBoot writes a file onto the boot partition, as an installer would.
func (d *Disk) WriteBoot(t *testing.T, name, content string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "mcopy", "-o", "-i", d.boot(), src, "::"+name)
}

// VM is a running QEMU guest booted from a Disk.
type VM struct {
	SSHPort, OCPPPort int
	Console           string // the serial console's log file
	Started           time.Time
	cmd               *exec.Cmd
	done              chan error
	key               string
}

// Boot starts qemu-system-aarch64 (-M virt, TCG) with the kernel and
// initramfs from the disk's boot partition and the command line of its
// cmdline.txt, the console moved to the virt board's serial port.
func Boot(t *testing.T, d *Disk, dir, key string) *VM {
	t.Helper()
	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	if _, err := os.Stat(kernel); err != nil {
		d.CopyOutBoot(t, "vmlinuz", kernel)
		d.CopyOutBoot(t, "initrd.img", initrd)
	}
	var args []string
	for _, a := range strings.Fields(d.ReadBoot(t, "cmdline.txt")) {
		if !strings.HasPrefix(a, "console=") {
			args = append(args, a)
		}
	}
	args = append(args, "console=ttyAMA0")
	vm := &VM{SSHPort: freePort(t), OCPPPort: freePort(t), key: key, done: make(chan error, 1)}
	vm.Console = filepath.Join(dir, fmt.Sprintf("console-%d.log", time.Now().UnixNano()))
	qemu := []string{
		"-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
		"-accel", "tcg,thread=multi",
		"-nographic", "-serial", "file:" + vm.Console, "-monitor", "none",
		"-kernel", kernel, "-initrd", initrd, "-append", strings.Join(args, " "),
		"-drive", "if=none,id=disk,format=raw,file=" + d.Path,
		"-device", "virtio-blk-pci,drive=disk",
		"-netdev", fmt.Sprintf("user,id=net,hostfwd=tcp:127.0.0.1:%d-:22,hostfwd=tcp:127.0.0.1:%d-:9000", vm.SSHPort, vm.OCPPPort),
		"-device", "virtio-net-pci,netdev=net",
		"-device", "virtio-rng-pci",
	}
	vm.cmd = exec.Command("qemu-system-aarch64", qemu...)
	vm.cmd.Stdout, vm.cmd.Stderr = os.Stderr, os.Stderr
	vm.Started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("qemu-system-aarch64: %v", err)
	}
	go func() { vm.done <- vm.cmd.Wait() }()
	t.Cleanup(vm.Kill)
	t.Logf("qemu started: ssh on 127.0.0.1:%d, OCPP on 127.0.0.1:%d, console in %s", vm.SSHPort, vm.OCPPPort, vm.Console)
	return vm
}

// Kill ends the guest at once, as pulling the power would.
func (vm *VM) Kill() {
	if vm.cmd.ProcessState == nil {
		_ = vm.cmd.Process.Kill()
		<-vm.done
		vm.done <- errors.New("killed") // later Kill calls return at once
	}
}

// sshArgs are the client's options: the test's key, no host key records
// (each boot of a fresh image makes a new host key).
func (vm *VM) sshArgs(extra ...string) []string {
	return append([]string{
		"-i", vm.key, "-p", strconv.Itoa(vm.SSHPort),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes",
	}, extra...)
}

// SSH runs a command on the guest as the admin user.
func (vm *VM) SSH(ctx context.Context, command string) (string, error) {
	cmd := exec.CommandContext(ctx, "ssh", vm.sshArgs("admin@127.0.0.1", command)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// MustSSH is SSH that fails the test on an error.
func (vm *VM) MustSSH(t *testing.T, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := vm.SSH(ctx, command)
	if err != nil {
		t.Fatalf("ssh %q: %v\n%s", command, err, out)
	}
	return out
}

// WaitSSH waits until the guest accepts the test's key, or fails the
// test after timeout, showing the console's end.
func (vm *VM) WaitSSH(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-vm.done:
			vm.done <- err
			t.Fatalf("qemu exited: %v\n%s", err, vm.ConsoleTail(40))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := vm.SSH(ctx, "true")
		cancel()
		if err == nil {
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("no SSH login after %s\n%s", timeout, vm.ConsoleTail(60))
}

// Forward opens an SSH tunnel from a local port to addr on the guest
// and returns the local address.
func (vm *VM) Forward(t *testing.T, addr string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("ssh", vm.sshArgs("-N", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:%s", port, addr), "admin@127.0.0.1")...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("ssh tunnel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	local := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", local, time.Second); err == nil {
			c.Close()
			return local
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ssh tunnel to %s did not open", addr)
	return ""
}

// ConsoleTail returns the last n lines of the serial console.
func (vm *VM) ConsoleTail(n int) string {
	f, err := os.Open(vm.Console)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
