package voice

// Perm is a user's permission set (enum permissions, a flag enum).
type Perm = uint64

// Permission bits (DESIGN.md, pinned from the reference header).
const (
	PermNone         Perm = 0
	PermRegisterUser Perm = 1 << 1
	PermDeleteUser   Perm = 1 << 2
	PermAddChannel   Perm = 1 << 3
	PermRmChannel    Perm = 1 << 4
	PermAddUser      Perm = 1 << 5
	PermKickUser     Perm = 1 << 6
	PermAdmin        Perm = 0x7FFFFFFF
)

// has reports whether p grants bit. perm_admin holds every bit, so an
// admin passes every check; it is tested on its own as well, so that a
// permission bit added later is granted to admins without a data change.
func has(p, bit Perm) bool {
	return p&bit == bit || p&PermAdmin == PermAdmin
}

// The permission rules of seed 002 §1.2, as pure functions of the facts a
// request is judged on, so that the whole matrix is testable without a
// server. Each returns CodeSuccess or CodeAccess.

func allowCreate(actor Perm) ErrorCode { return verdict(has(actor, PermAddChannel)) }

// allowDelete: the channel's owner needs no permission.
func allowDelete(actorUID uint64, actor Perm, owner uint64) ErrorCode {
	return verdict(actorUID == owner || has(actor, PermRmChannel))
}

// allowJoin: joining oneself needs no permission.
func allowJoin(uid uint64, actor Perm, juid uint64) ErrorCode {
	return verdict(uid == juid || has(actor, PermAddUser))
}

// allowLeave: leaving oneself needs no permission.
func allowLeave(uid uint64, actor Perm, luid uint64) ErrorCode {
	return verdict(uid == luid || has(actor, PermKickUser))
}

// allowRegister: auid 0 is a regular registration (the perm field is then
// ignored); otherwise auid must hold perm_register_user.
func allowRegister(auid uint64, actor Perm) ErrorCode {
	return verdict(auid == 0 || has(actor, PermRegisterUser))
}

// allowUnregister: deleting oneself needs no permission.
func allowUnregister(auid uint64, actor Perm, uid uint64) ErrorCode {
	return verdict(auid == uid || has(actor, PermDeleteUser))
}

func verdict(ok bool) ErrorCode {
	if ok {
		return CodeSuccess
	}
	return CodeAccess
}
