package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// childProc is the parent's handle on one child process.
type childProc struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	msgs   chan childMsg
	stderr *tail
	exited chan struct{} // closed once the process was waited for
	err    error         // the process's exit error, set before exited closes
}

// defaultExec is how a child is started when the configuration does not
// say: this very executable, as 'tickcast bench child <role>' (a test
// binary dispatches on ChildEnv in its TestMain instead of on the arguments).
func defaultExec() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable to start the children: %w", err)
	}
	return []string{exe, "bench", "child"}, nil
}

// startChild starts a child for c.Role with exe (and the role as its last
// argument, for ps) and hands it its configuration. The child's stderr is
// kept to explain a failure, and copied to stderr if that is not nil.
func startChild(exe []string, c childConfig, stderr io.Writer) (*childProc, error) {
	cmd := exec.Command(exe[0], append(exe[1:len(exe):len(exe)], c.Role)...)
	cmd.Env = append(os.Environ(), ChildEnv+"="+c.Role)
	setChildAttrs(cmd)
	p := &childProc{role: c.Role, cmd: cmd, msgs: make(chan childMsg, 4), stderr: &tail{max: 16 << 10}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(p.stderr, stderr)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s child: %w", c.Role, err)
	}
	p.stdin = stdin
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var m childMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = childMsg{Error: fmt.Sprintf("unreadable output %.100q: %v", sc.Text(), err)}
			}
			p.msgs <- m
		}
		close(p.msgs)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	b, _ := json.Marshal(c)
	if _, err := stdin.Write(append(b, '\n')); err != nil {
		p.stop()
		return nil, fmt.Errorf("configure the %s child: %w%s", c.Role, err, p.stderrNote())
	}
	return p, nil
}

// next returns the child's next message.
func (p *childProc) next(ctx context.Context) (childMsg, error) {
	select {
	case m, ok := <-p.msgs:
		if !ok {
			<-p.exited
			return childMsg{}, fmt.Errorf("%s child: %w (%v)%s", p.role, errChildGone, p.err, p.stderrNote())
		}
		if m.Error != "" {
			return m, fmt.Errorf("%s child: %s%s", p.role, m.Error, p.stderrNote())
		}
		return m, nil
	case <-ctx.Done():
		return childMsg{}, fmt.Errorf("%s child: %w", p.role, ctx.Err())
	}
}

// waitReady waits for the child's ready message.
func (p *childProc) waitReady(ctx context.Context) error {
	m, err := p.next(ctx)
	if err != nil {
		return err
	}
	if m.Ready == nil {
		return fmt.Errorf("%s child: a result before it was ready", p.role)
	}
	return nil
}

// waitResult waits for the child's result and decodes it into v.
func (p *childProc) waitResult(ctx context.Context, v any) error {
	for {
		m, err := p.next(ctx)
		if err != nil {
			return err
		}
		if m.Result != nil {
			if err := json.Unmarshal(m.Result, v); err != nil {
				return fmt.Errorf("%s child: decode its result: %w", p.role, err)
			}
			return nil
		}
	}
}

// stop ends the child: closing its stdin tells it the parent is done; one
// that does not exit within a few seconds is killed. It returns once the
// process was waited for, and may be called more than once.
func (p *childProc) stop() {
	p.stdin.Close()
	go func() {
		for range p.msgs { // drain what nobody reads, so the reader reaches Wait
		}
	}()
	select {
	case <-p.exited:
		return
	case <-time.After(3 * time.Second):
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// stderrNote returns the end of the child's stderr, to explain a failure.
func (p *childProc) stderrNote() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return "; its stderr ends:\n" + s
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
		if i := bytes.IndexByte(t.b, '\n'); i >= 0 {
			t.b = t.b[i+1:]
		}
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// sendStart tells the child when the run starts.
func (p *childProc) sendStart(t int64) error {
	b, _ := json.Marshal(startMsg{StartNs: t})
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("start the %s child: %w%s", p.role, err, p.stderrNote())
	}
	return nil
}
