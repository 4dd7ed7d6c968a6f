package coresock

import "os"

func init() { skipDrained = os.Getenv("SKIP") == "1" }
