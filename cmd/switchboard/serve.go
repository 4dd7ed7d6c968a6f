package main

import (
	"context"
	"flag"

	"switchboard/internal/config"
	"switchboard/internal/server"
)

// loadConfig reads --config (or the built-in default) and applies --data
// when it was given explicitly.
func loadConfig(fs *flag.FlagSet, path, data string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			cfg.DataDir = data
		}
	})
	return cfg, nil
}

func cmdServe(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "serve")
	cfgPath := fs.String("config", "", "configuration file (default: the built-in configuration)")
	logFormat := fs.String("log-format", "", "override log.format: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(fs, *cfgPath, *data)
	if err != nil {
		return err
	}
	if *logFormat != "" {
		cfg.Log.Format = *logFormat
		if err := cfg.Validate(); err != nil {
			return errUsagef("--log-format: %v", err)
		}
	}
	server.Version = version
	log := server.NewLogger(env.Stderr, cfg.Log.Format, cfg.Log.Level)
	return server.New(cfg, log).Run(ctx, nil)
}
