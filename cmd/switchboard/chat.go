package main

import (
	"context"
	"errors"
)

// cmdChat is a placeholder until the chat client lands.
func cmdChat(ctx context.Context, env *Env, args []string) error {
	return errors.New("chat: not implemented yet")
}
