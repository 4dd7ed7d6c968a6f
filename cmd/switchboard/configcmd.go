package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"switchboard/internal/config"
)

func cmdDefaultConfig(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "defaultconfig")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := io.WriteString(env.Stdout, config.Default)
	return err
}

func cmdCheckConfig(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "check-config")
	cfgPath := fs.String("config", "", "configuration file to check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := *cfgPath
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" {
		return errUsagef("give the file to check: --config FILE")
	}
	cfg, err := loadConfig(fs, path, *data)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: ok (data %s, admin %s)\n", path, cfg.DataDir, cfg.Admin.Listen)
	return nil
}

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

func cmdVersion(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(env.Stdout, "switchboard %s (%s)\n", v, bi.GoVersion)
		return nil
	}
	fmt.Fprintf(env.Stdout, "switchboard %s\n", v)
	return nil
}
