package passwords

import (
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds on parameters read from a stored hash: anything outside is treated as an
// unknown hash, so a corrupted or hostile row can neither exhaust memory nor pin a
// hashing slot for long.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
)

var b64 = base64.RawStdEncoding

// encodePHC formats $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash> with unpadded
// standard base64, as the reference implementation and passlib do.
func encodePHC(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + b64.EncodedLen(len(salt)) + b64.EncodedLen(len(key)))
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.MemoryKiB), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(key))
	return b.String()
}

// decodePHC parses an argon2id PHC string of version 19 whose parameters are within
// bounds; ok is false otherwise.
func decodePHC(s string) (p Params, salt, key []byte, ok bool) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return Params{}, nil, nil, false
	}
	m, t, threads, ok := parseCost(parts[3])
	if !ok {
		return Params{}, nil, nil, false
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, false
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, false
	}
	p = Params{MemoryKiB: m, Time: t, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, true
}

// parseCost reads "m=<m>,t=<t>,p=<p>" in that order, as every argon2 encoder writes it.
func parseCost(s string) (m, t uint32, p uint8, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(fields[i], name)
		if !found {
			return 0, 0, 0, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, 0, 0, false
		}
		vals[i] = n
	}
	mem, iter, threads := vals[0], vals[1], vals[2]
	// argon2 needs m >= 8*p; x/crypto raises a lower m silently, so reject it here.
	if threads < 1 || threads > maxThreads || iter < 1 || iter > maxTime || mem < 8*threads || mem > maxMemoryKiB {
		return 0, 0, 0, false
	}
	return uint32(mem), uint32(iter), uint8(threads), true
}
