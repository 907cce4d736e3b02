//go:build !unix

package enroll

import "os"

func matchOwner(*os.File, string) error { return nil }
