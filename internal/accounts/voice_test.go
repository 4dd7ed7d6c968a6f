package accounts

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestVoiceUsers(t *testing.T) {
	db, path := openTemp(t)
	if err := db.PutVoiceUser(0x0102030405060708, 8); err != nil {
		t.Fatal(err)
	}
	if err := db.PutVoiceUser(5, 0x7FFFFFFF); err != nil {
		t.Fatal(err)
	}
	// Changing the perm keeps the creation time.
	before, _ := db.VoiceUsers()
	if err := db.PutVoiceUser(5, 2); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteVoiceUser(99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	// Chat accounts and voice users share the file without touching
	// each other.
	if err := db.Add(Account{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	users, err := LoadVoiceUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].UID != 5 || users[0].Perm != 2 || users[1].UID != 0x0102030405060708 || users[1].Perm != 8 {
		t.Fatalf("users %+v", users)
	}
	if !users[0].Created.Equal(before[0].Created) {
		t.Fatalf("created changed: %v -> %v", before[0].Created, users[0].Created)
	}
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Lookup("alice"); !ok {
		t.Fatal("alice lost")
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.DeleteVoiceUser(5); err != nil {
		t.Fatal(err)
	}
	if u, _ := db2.VoiceUsers(); len(u) != 1 {
		t.Fatalf("after delete %+v", u)
	}
	// A missing file has no voice users.
	if u, err := LoadVoiceUsers(filepath.Join(t.TempDir(), FileName)); err != nil || len(u) != 0 {
		t.Fatalf("missing file: %v %v", u, err)
	}
}
