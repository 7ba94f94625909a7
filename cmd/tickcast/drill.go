package main

import (
	"context"
	"io"
)

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usagef("not built yet")
}
