package localfs_test

import "crypto/sha256"

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
