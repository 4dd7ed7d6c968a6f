package accounts

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Voice users (KV, seed 002) are identified by a 64-bit uid rather than a
// name: the KV protocol carries nothing else. They live in their own
// bucket of the same file, so that one registry holds every user of the
// switch and one backup keeps them all (docs/accounts.md, docs/voice.md).
var bucketVoice = []byte("voice_users") // 8-byte big-endian uid -> JSON voiceRecord

type voiceRecord struct {
	Perm    uint64    `json:"perm"`
	Created time.Time `json:"created"`
}

// VoiceUser is one registered voice uid and its permission bits.
type VoiceUser struct {
	UID     uint64
	Perm    uint64
	Created time.Time
}

func voiceKey(uid uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, uid)
}

// PutVoiceUser registers uid with perm, or sets the perm of a registered
// uid (keeping its creation time).
func (db *DB) PutVoiceUser(uid, perm uint64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketVoice)
		if err != nil {
			return err
		}
		rec := voiceRecord{Perm: perm, Created: time.Now().UTC().Round(0)}
		if v := b.Get(voiceKey(uid)); v != nil {
			var old voiceRecord
			if json.Unmarshal(v, &old) == nil && !old.Created.IsZero() {
				rec.Created = old.Created
			}
		}
		val, err := json.Marshal(&rec)
		if err != nil {
			return err
		}
		return b.Put(voiceKey(uid), val)
	})
}

// DeleteVoiceUser removes uid (ErrNotFound if it is not registered).
func (db *DB) DeleteVoiceUser(uid uint64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVoice)
		if b == nil || b.Get(voiceKey(uid)) == nil {
			return fmt.Errorf("voice user: %w", ErrNotFound)
		}
		return b.Delete(voiceKey(uid))
	})
}

// VoiceUsers lists every registered voice uid in uid order.
func (db *DB) VoiceUsers() ([]VoiceUser, error) {
	var out []VoiceUser
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVoice)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return errors.New("damaged voice user key in accounts database")
			}
			var r voiceRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("damaged voice user in accounts database: %w", err)
			}
			out = append(out, VoiceUser{UID: binary.BigEndian.Uint64(k), Perm: r.Perm, Created: r.Created.UTC()})
			return nil
		})
	})
	return out, err
}

// LoadVoiceUsers reads the voice users of the file at path (read-only, a
// shared lock held only for the read). A missing file has none.
func LoadVoiceUsers(path string) ([]VoiceUser, error) {
	db, err := OpenReadOnly(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	users, err := db.VoiceUsers()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return users, err
}
