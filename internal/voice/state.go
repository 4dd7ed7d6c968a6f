package voice

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"switchboard/internal/datadir"
)

// StateFileName is the channel state file in the data directory.
const StateFileName = "voice-channels.json"

// stateVersion is the layout of the state file (docs/voice.md).
const stateVersion = 1

type state struct {
	Version  int            `json:"version"`
	NextChid uint64         `json:"next_chid"`
	Channels []channelState `json:"channels"`
}

type channelState struct {
	ID      uint64   `json:"id"`
	Owner   uint64   `json:"owner"`
	Port    int      `json:"port"`
	Members []uint64 `json:"members"`
}

func (h *Hub) snapshotLocked() state {
	st := state{Version: stateVersion, NextChid: h.nextChid, Channels: []channelState{}}
	for _, ch := range h.channels {
		cs := channelState{ID: ch.id, Owner: ch.owner, Port: ch.port, Members: []uint64{}}
		for _, m := range ch.members.Load().list {
			cs.Members = append(cs.Members, m.uid)
		}
		st.Channels = append(st.Channels, cs)
	}
	slices.SortFunc(st.Channels, func(a, b channelState) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return st
}

// writeState replaces the file atomically and durably, so that a crash
// leaves the old state or the new one. 0600: the state holds uids, which
// are credentials.
func writeState(path string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return datadir.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// restore recreates the channels of the state file: each gets its old port
// back if it is free (else a new one, logged), and its members again,
// unbound, with the keepalive clock started now: a member that does not
// speak within the timeout after the restart is removed as usual. Members
// no longer registered are dropped.
func (h *Hub) restore() error {
	if h.cfg.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(h.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("voice state %s: %w", h.cfg.StateFile, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("voice state %s: %w", filepath.Base(h.cfg.StateFile), err)
	}
	if st.Version > stateVersion {
		return fmt.Errorf("voice state %s has version %d; this switchboard reads up to %d", h.cfg.StateFile, st.Version, stateVersion)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextChid = max(st.NextChid, 1)
	now := time.Now()
	for _, cs := range st.Channels {
		if cs.ID == 0 || h.channels[cs.ID] != nil {
			continue
		}
		ch, err := h.openChannelLocked(cs.ID, cs.Owner, cs.Port)
		if err != nil {
			return fmt.Errorf("voice state: channel %d: %w", cs.ID, err)
		}
		if ch.port != cs.Port {
			h.log.Warn("voice channel restored on a new port", "channel", cs.ID, "old_port", cs.Port, "port", ch.port)
		}
		for _, uid := range cs.Members {
			if _, ok := h.users[uid]; ok && len(ch.members.Load().list) < h.cfg.MaxMembers {
				ch.addLocked(uid, now)
			}
		}
		h.channels[cs.ID] = ch
		h.nextChid = max(h.nextChid, cs.ID+1)
		ch.start()
	}
	return nil
}
