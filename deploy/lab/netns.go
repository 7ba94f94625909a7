package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Prefix starts the name of every namespace the lab creates, of every nft
// table and of every temporary directory: the sweep removes what carries it.
const Prefix = "tclab-"

// nftTable is the name of the loss drill's table (nft names take no '-').
const nftTable = "tclab_loss"

// command runs name with args and returns its output; a failure's error
// holds the command line and what it printed.
func command(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// ip runs ip(8) with args.
func ip(ctx context.Context, args ...string) error {
	_, err := command(ctx, "", "ip", args...)
	return err
}

// nft runs nft(8) in namespace ns with args (stdin as the script when set).
func nft(ctx context.Context, ns, stdin string, args ...string) (string, error) {
	return command(ctx, stdin, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
}

// namespaces lists the network namespaces whose name starts with Prefix.
func namespaces(ctx context.Context) ([]string, error) {
	out, err := command(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line) // "name (id: 3)"
		if len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// pidsIn lists the processes in namespace ns.
func pidsIn(ctx context.Context, ns string) ([]string, error) {
	out, err := command(ctx, "", "ip", "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
